//! What the private `/tmp` exposes again (built before fork; entering the view is tested
//! through real runs in tests/containment_modes.rs).

use std::path::{Path, PathBuf};

use super::*;

fn exposed(view: &FsView) -> Vec<(String, bool)> {
    view.exposed
        .iter()
        .map(|e| (e.path.to_string_lossy().into_owned(), e.file))
        .collect()
}

#[test]
fn the_script_folder_and_arguments_in_tmp_come_back_once() {
    let dir = tempfile::tempdir_in(TMP).expect("tempdir in /tmp");
    let work = dir.path().join("work");
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(sub.join("inner")).expect("mkdir");
    std::fs::write(sub.join("s.py"), "").expect("write");
    let args = vec![
        sub.join("s.py").display().to_string(),
        sub.join("inner").display().to_string(),
        "-v".to_string(),
        "missing.txt".to_string(),
    ];
    let needed = needed_paths(Path::new("/usr/bin/python3"), &args, &work);
    let view = FsView::new(&work, &[], &[], &needed, true).expect("a view");
    assert!(view.private_tmp());
    let mut want = vec![
        (sub.display().to_string(), false),
        (work.display().to_string(), false),
    ];
    want.sort();
    assert_eq!(exposed(&view), want, "sub/inner comes back with sub");
}

#[test]
fn a_file_directly_in_tmp_comes_back_alone() {
    let file = tempfile::NamedTempFile::new_in(TMP).expect("a file in /tmp");
    let work = tempfile::tempdir_in(TMP).expect("tempdir in /tmp");
    let args = vec![file.path().display().to_string()];
    let needed = needed_paths(Path::new("/usr/bin/python3"), &args, work.path());
    let view = FsView::new(work.path(), &[], &[], &needed, true).expect("a view");
    let got = exposed(&view);
    assert!(
        got.contains(&(file.path().display().to_string(), true)),
        "{got:?}"
    );
    let made = &view
        .exposed
        .iter()
        .find(|e| e.file)
        .expect("the file")
        .mkdirs;
    assert!(made.is_empty(), "no folder to make for {made:?}");
}

#[test]
fn too_many_needed_paths_keep_the_hosts_tmp() {
    let dir = tempfile::tempdir_in(TMP).expect("tempdir in /tmp");
    let args: Vec<String> = (0..=MAX_EXPOSED)
        .map(|i| {
            let d = dir.path().join(format!("d{i}"));
            std::fs::create_dir(&d).expect("mkdir");
            d.display().to_string()
        })
        .collect();
    let needed: Vec<PathBuf> = needed_paths(Path::new("/bin/true"), &args, dir.path());
    let work = tempfile::tempdir_in(TMP).expect("tempdir in /tmp");
    let view = FsView::new(work.path(), &[], &[], &needed, true).expect("a view");
    assert!(!view.private_tmp());
    assert!(
        exposed(&view).is_empty(),
        "nothing is hidden, so nothing comes back"
    );
}
