//! The class in numbers: every student × exercise slot is exactly one of passing, not
//! passing (a failed check, a limit, a build error), missing (no submission), could not
//! grade (a fault of the grader), or not graded yet (a stopped run), so they add up.

use serde::Serialize;

use super::gradebook::ClassView;
use super::outcome::Status;

/// How the slots of a class are spread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Students × exercises.
    pub slots: usize,
    /// Judged: `passing + not_passing`.
    pub graded: usize,
    pub passing: usize,
    pub not_passing: usize,
    /// No submission for the exercise.
    pub missing: usize,
    /// The grader could not grade it (its environment, not the student).
    pub errors: usize,
    /// No record yet (the batch was stopped before it).
    pub pending: usize,
}

impl Counts {
    /// Count the records of `view`.
    pub fn of(view: &ClassView<'_>) -> Self {
        let mut counts = Counts::default();
        for student in view.students {
            for exercise in view.exercises {
                counts.slots += 1;
                let key = (student.clone(), exercise.clone());
                match view.records.get(&key).map(|o| o.status) {
                    None => counts.pending += 1,
                    Some(Status::Missing) => counts.missing += 1,
                    Some(Status::Error) => counts.errors += 1,
                    Some(Status::Pass) => counts.passing += 1,
                    Some(_) => counts.not_passing += 1,
                }
            }
        }
        counts.graded = counts.passing + counts.not_passing;
        counts
    }

    /// `14 graded (4 passing, 10 not passing), 10 missing, 0 could not be graded`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} graded ({} passing, {} not passing), {} missing, {} could not be graded",
            self.graded, self.passing, self.not_passing, self.missing, self.errors
        );
        if self.pending > 0 {
            text.push_str(&format!(", {} not graded yet", self.pending));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::gradebook::Records;
    use crate::class::outcome::Outcome;

    #[test]
    fn every_slot_is_counted_once() {
        let students: Vec<String> = ["ann", "bob", "cy"].map(String::from).to_vec();
        let exercises: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut records = Records::new();
        let cells = [
            ("ann", "a", Status::Pass),
            ("ann", "b", Status::Fail),
            ("ann", "c", Status::Limit),
            ("bob", "a", Status::Missing),
            ("bob", "b", Status::BuildError),
            ("bob", "c", Status::Error),
            ("cy", "a", Status::Missing),
            ("cy", "b", Status::Pass),
        ];
        for (student, exercise, status) in cells {
            let o = Outcome::without_checks(student, exercise, status, "", "k");
            records.insert((student.into(), exercise.into()), o);
        }
        let view = ClassView {
            exercises: &exercises,
            students: &students,
            records: &records,
        };
        let counts = Counts::of(&view);
        assert_eq!(
            counts,
            Counts {
                slots: 9,
                graded: 5,
                passing: 2,
                not_passing: 3,
                missing: 2,
                errors: 1,
                pending: 1,
            }
        );
        assert_eq!(
            counts.describe(),
            "5 graded (2 passing, 3 not passing), 2 missing, 1 could not be graded, \
             1 not graded yet"
        );
    }
}
