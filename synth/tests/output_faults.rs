//! Step-by-step fault injection into the output writer. Every change a
//! synth makes to the directory is, in turn, the point where it is killed
//! (no further change happens) and the one system call that fails (a failing
//! rename, say). Before every change and after each run, what terraform reads
//! must be the whole old module or the whole new one; terraform's and the
//! user's files must be untouched; and the next synth (or `read_output`)
//! must recover to the new module with nothing of the interrupted one left.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use common::{
    assert_no_leftovers, assert_settled, chart_source, module, others, scratch, view, write_flat,
    Version, A, A2, B, C,
};
use synth::output::{
    read_output, read_output_observed, write_module, write_module_observed, Change,
};
use synth::Module;

#[derive(Debug, Clone, Copy)]
struct Case {
    old: Option<Version>,
    new: Version,
    /// The old module as synths before generations wrote it.
    flat: bool,
    /// Terraform initialised for blue's state, with state and lock file.
    terraform: bool,
}

const CASES: &[Case] = &[
    Case {
        old: None,
        new: A,
        flat: false,
        terraform: false,
    },
    Case {
        old: Some(A),
        new: B,
        flat: false,
        terraform: true,
    },
    Case {
        old: Some(B),
        new: A,
        flat: false,
        terraform: true,
    },
    Case {
        old: Some(A),
        new: A2,
        flat: false,
        terraform: true,
    },
    Case {
        old: Some(A),
        new: C,
        flat: false,
        terraform: false,
    },
    Case {
        old: Some(A),
        new: B,
        flat: true,
        terraform: true,
    },
    Case {
        old: Some(A),
        new: A,
        flat: true,
        terraform: false,
    },
];

struct Fixture {
    chart: tempfile::TempDir,
    case: Case,
    old_view: BTreeMap<String, Vec<u8>>,
    new_view: BTreeMap<String, Vec<u8>>,
    new_module: Module,
    others: BTreeMap<String, Vec<u8>>,
}

impl Fixture {
    fn new(case: Case) -> Self {
        let chart = chart_source();
        let new_module = module(&case.new, chart.path());
        let mut fixture = Self {
            chart,
            case,
            old_view: BTreeMap::new(),
            new_view: BTreeMap::new(),
            new_module,
            others: BTreeMap::new(),
        };
        let dir = fixture.setup();
        fixture.old_view = view(dir.path());
        fixture.others = others(dir.path());
        write_module(dir.path(), &fixture.new_module).unwrap();
        fixture.new_view = view(dir.path());
        let same = case
            .old
            .is_some_and(|old| old.marker == case.new.marker && old.env == case.new.env);
        assert!(same || fixture.old_view != fixture.new_view, "{case:?}");
        fixture
    }

    /// A directory holding the old module, terraform's files and the user's.
    fn setup(&self) -> tempfile::TempDir {
        let dir = scratch();
        let out = dir.path();
        if let Some(old) = &self.case.old {
            let m = module(old, self.chart.path());
            if self.case.flat {
                write_flat(out, &m);
                // Synths before generations left their staging directories behind.
                fs::create_dir_all(out.join(".synth-tmp-123-456/chart")).unwrap();
                fs::write(out.join(".synth-tmp-123-456/app.tf.json"), "{").unwrap();
            } else {
                write_module(out, &m).unwrap();
            }
        }
        fs::write(out.join("notes.txt"), "mine").unwrap();
        if self.case.terraform {
            fs::create_dir_all(out.join(".terraform/providers")).unwrap();
            fs::write(
                out.join(".terraform/terraform.tfstate"),
                r#"{"version": 3, "backend": {"type": "local", "config": {"path": "terraform.blue.tfstate", "workspace_dir": null}, "hash": 1}}"#,
            )
            .unwrap();
            fs::write(out.join("terraform.blue.tfstate"), "{\"serial\": 7}").unwrap();
            fs::write(out.join("terraform.blue.tfstate.backup"), "{}").unwrap();
            fs::write(out.join(".terraform.lock.hcl"), "lock").unwrap();
        }
        dir
    }

    /// What terraform reads is the whole old module or the whole new one.
    fn assert_whole(&self, dir: &Path, when: &str) {
        let now = view(dir);
        assert!(
            now == self.old_view || now == self.new_view,
            "{:?} {when}: terraform would read a mix: {:?}",
            self.case,
            now.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            others(dir),
            self.others,
            "{:?} {when}: terraform's or the user's files changed",
            self.case
        );
    }

    fn assert_new(&self, dir: &Path, when: &str) {
        assert!(
            view(dir) == self.new_view,
            "{:?} {when}: not the new module",
            self.case
        );
        assert!(
            fs::read(dir.join("manifest.json")).unwrap() == self.new_module.files["manifest.json"],
            "{:?} {when}: not the new manifest",
            self.case
        );
        assert_settled(dir);
        assert_eq!(others(dir), self.others, "{:?} {when}", self.case);
    }

    /// Writes the new module, calling `fault` with each change's index.
    fn write(
        &self,
        dir: &Path,
        fault: &mut dyn FnMut(usize) -> io::Result<()>,
    ) -> Result<synth::output::WriteReport, synth::SynthError> {
        let mut n = 0;
        write_module_observed(dir, &self.new_module, &mut |_change: &Change<'_>| {
            n += 1;
            fault(n - 1)
        })
    }

    /// [`Self::write`], checking that the module is whole before every
    /// change that is made. (A kill at change k leaves the directory as it
    /// was before change k of an undisturbed run, so the undisturbed run
    /// checked here covers every kill.)
    fn write_checked(
        &self,
        dir: &Path,
        fault: &mut dyn FnMut(usize) -> io::Result<()>,
    ) -> Result<synth::output::WriteReport, synth::SynthError> {
        self.write(dir, &mut |n| {
            fault(n)?;
            self.assert_whole(dir, &format!("before change {n}"));
            Ok(())
        })
    }

    /// How many changes a clean write makes.
    fn changes(&self) -> usize {
        let dir = self.setup();
        let count = Cell::new(0);
        self.write_checked(dir.path(), &mut |_| {
            count.set(count.get() + 1);
            Ok(())
        })
        .unwrap();
        self.assert_new(dir.path(), "after a clean write");
        count.get()
    }
}

fn killed() -> io::Error {
    io::Error::other("killed")
}

/// Dies at change `at`: that change and every later one never happen.
fn kill_at(at: usize) -> impl FnMut(usize) -> io::Result<()> {
    let mut dead = false;
    move |n| {
        if dead || n == at {
            dead = true;
            return Err(killed());
        }
        Ok(())
    }
}

/// Change `at` fails; the rest (the rollback) work.
fn fail_at(at: usize) -> impl FnMut(usize) -> io::Result<()> {
    move |n| {
        if n == at {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        Ok(())
    }
}

#[test]
fn a_synth_killed_at_any_change_leaves_a_whole_module_and_the_next_one_recovers() {
    for case in CASES {
        let f = Fixture::new(*case);
        let total = f.changes();
        eprintln!("{case:?}: {total} changes, killed at each");
        for at in 0..total {
            let dir = f.setup();
            if let Ok(report) = f.write(dir.path(), &mut kill_at(at)) {
                // Killed after the switch, while cleaning up.
                assert!(
                    !report.warnings.is_empty(),
                    "{case:?}: killed at {at} unnoticed"
                );
            }
            f.assert_whole(dir.path(), &format!("killed at change {at}"));
            // Half the time `diff` comes first: it recovers and reads what
            // terraform reads.
            if at % 2 == 0 {
                let before = view(dir.path());
                let previous = read_output(dir.path()).unwrap();
                let expected = if before == f.new_view {
                    &f.new_view
                } else {
                    &f.old_view
                };
                let read: BTreeMap<String, Vec<u8>> = previous
                    .map(|p| p.files.into_iter().collect())
                    .unwrap_or_default();
                assert!(
                    &read == expected,
                    "{case:?} killed at {at}: read another module"
                );
                assert_eq!(
                    view(dir.path()),
                    before,
                    "{case:?}: recovery changed the module"
                );
                assert_no_leftovers(dir.path(), &format!("{case:?}: read after a kill at {at}"));
            }
            f.write(dir.path(), &mut |_| Ok(())).unwrap();
            f.assert_new(dir.path(), &format!("after recovering from a kill at {at}"));
        }
    }
}

#[test]
fn a_failing_change_is_rolled_back_or_left_to_cleanup() {
    for case in CASES {
        let f = Fixture::new(*case);
        let total = f.changes();
        for at in 0..total {
            let dir = f.setup();
            match f.write_checked(dir.path(), &mut fail_at(at)) {
                Err(e) => {
                    assert!(
                        view(dir.path()) == f.old_view,
                        "{case:?}: change {at} failed ({e}) yet the module changed"
                    );
                    assert!(e.to_string().contains("permission denied"), "{e}");
                    assert_no_leftovers(dir.path(), &format!("{case:?} failed at {at}"));
                }
                Ok(report) => {
                    assert!(view(dir.path()) == f.new_view);
                    assert!(
                        !report.warnings.is_empty(),
                        "{case:?}: change {at} failed silently"
                    );
                }
            }
            f.write(dir.path(), &mut |_| Ok(())).unwrap();
            f.assert_new(dir.path(), &format!("after change {at} failed"));
        }
    }
}

/// Kills during recovery too: a synth killed at change `a`, the next one at
/// change `b` of its own run, then a third must still end with the new module.
#[test]
fn recovery_itself_can_be_killed_at_any_change() {
    for case in [CASES[1], CASES[5]] {
        let f = Fixture::new(case);
        let total = f.changes();
        for a in (0..total).step_by(3) {
            for b in 0.. {
                let dir = f.setup();
                let _ = f.write(dir.path(), &mut kill_at(a));
                let second = f.write(dir.path(), &mut kill_at(b));
                f.assert_whole(dir.path(), &format!("killed at {a}, then at {b}"));
                f.write(dir.path(), &mut |_| Ok(())).unwrap();
                f.assert_new(dir.path(), &format!("killed at {a}, then at {b}"));
                if second.is_ok() {
                    break;
                }
            }
        }
    }
}

#[test]
fn reading_recovers_even_when_killed() {
    let f = Fixture::new(CASES[1]);
    let total = f.changes();
    for a in 0..total {
        for b in 0.. {
            let dir = f.setup();
            let _ = f.write(dir.path(), &mut kill_at(a));
            let mut fault = kill_at(b);
            let mut n = 0;
            let read = read_output_observed(dir.path(), &mut |_| {
                n += 1;
                fault(n - 1)
            });
            f.assert_whole(dir.path(), &format!("write killed at {a}, read at {b}"));
            if read.is_ok() {
                assert_no_leftovers(dir.path(), &format!("write killed at {a}, read at {b}"));
                break;
            }
        }
    }
}
