//! Lines that fit the terminal: long ones wrap at a space or comma, continuing indented.

/// `line` as lines of at most `width` characters; continuation lines start with `indent`
/// spaces. A word longer than a line is cut.
pub fn wrap(line: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 8);
    let mut out = Vec::new();
    let mut rest: Vec<char> = line.chars().collect();
    let mut prefix = String::new();
    loop {
        let room = width - prefix.chars().count();
        if rest.len() <= room {
            out.push(format!("{prefix}{}", rest.iter().collect::<String>()));
            return out;
        }
        // Break after the last space or comma that fits; else cut.
        let cut = rest[..room]
            .iter()
            .rposition(|c| *c == ' ' || *c == ',')
            .filter(|&i| i > 0)
            .map_or(room, |i| i + 1);
        let head: String = rest[..cut].iter().collect();
        out.push(format!("{prefix}{}", head.trim_end()));
        rest = rest[cut..]
            .iter()
            .copied()
            .skip_while(|c| *c == ' ')
            .collect();
        prefix = " ".repeat(indent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_commas_within_the_width() {
        let flow = "flow: cookie=0x0,table=0,priority=4,in_port=1,dl_vlan=1 actions=mod_vlan_vid:1000,NORMAL";
        for width in [20, 40, 60, 200] {
            let lines = wrap(flow, width, 6);
            assert!(
                lines.iter().all(|l| l.chars().count() <= width),
                "{lines:?}"
            );
            let joined: String = lines.iter().map(|l| l.trim()).collect();
            assert_eq!(joined.replace(' ', ""), flow.replace(' ', ""));
        }
        assert_eq!(wrap("short", 80, 4), ["short"]);
        let cut = wrap(&"x".repeat(50), 20, 2);
        assert!(cut.iter().all(|l| l.chars().count() <= 20), "{cut:?}");
    }
}
