//! Colour for the text views.

use crate::journey::verdict::Outcome;

/// ANSI colour, or none (not a terminal, or `NO_COLOR`).
pub struct Paint(pub bool);

impl Paint {
    pub fn outcome(&self, o: Outcome) -> String {
        let (word, colour) = match o {
            Outcome::Delivered => ("DELIVERED", "32"),
            Outcome::Stopped => ("STOPPED", "31"),
            Outcome::Unseen => ("UNSEEN", "33"),
        };
        if self.0 {
            format!("\x1b[1;{colour}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    pub fn dim(&self, s: &str) -> String {
        if self.0 {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}
