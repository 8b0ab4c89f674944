//! The platform bundles through real processes: `proclab package` writes them, the
//! generated Gradescope `run_autograder` and PrairieLearn `run.sh` grade fixture
//! submissions in temporary `/autograder`- and `/grade`-shaped trees (their path
//! overrides), and the results files they write are validated against the platforms'
//! documented fields (tests/schemas). The GitHub Classroom workflow is parsed as YAML
//! and one of its test commands is run as the action would.

mod grade_common;
mod platform_common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use grade_common::proclab;
use platform_common::*;
use serde_json::Value;

/// Two exercises: one handed in correct, one wrong (a child prints the parent's initial
/// value, as if memory were shared).
const EXERCISES: &str = "start-target,isolation";
fn package(platform: &str, output: &Path) -> Output {
    run(Command::new(proclab())
        .args(["package", platform, "--exercises", EXERCISES, "-o"])
        .arg(output))
}
/// Unpack the zip into `into`; its files as (name, unix mode), sorted.
fn unzip(path: &Path, into: &Path) -> Vec<(String, u32)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().expect("a UTF-8 name").to_string();
        let mode = file.unix_mode().unwrap_or(0) & 0o777;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        let target = into.join(&name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, bytes).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
        names.push((name, mode));
    }
    names.sort();
    names
}

/// An `/autograder` tree with the bundle unpacked in `source/`.
fn autograder_tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("autograder.zip");
    let out = package("gradescope", &zip);
    assert!(out.status.success(), "{out:?}");
    let root = dir.path().join("autograder");
    std::fs::create_dir_all(root.join("source")).unwrap();
    let files = unzip(&zip, &root.join("source"));
    assert_eq!(
        files,
        vec![
            ("proclab".to_string(), 0o755),
            ("run_autograder".to_string(), 0o755),
            ("setup.sh".to_string(), 0o755),
        ],
        "the files Gradescope needs at the zip's root, executable"
    );
    (dir, root)
}

fn run_autograder(root: &Path) -> Output {
    let out = run(Command::new(root.join("source/run_autograder"))
        .env("PROCLAB_AUTOGRADER_ROOT", root)
        .current_dir(root));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    out
}

#[test]
fn gradescope_bundle_grades_a_submission_and_writes_results_per_the_spec() {
    let (_dir, root) = autograder_tree();
    for script in ["setup.sh", "run_autograder"] {
        bash_syntax_ok(&root.join("source").join(script));
    }
    let setup = std::fs::read_to_string(root.join("source/setup.sh")).unwrap();
    assert!(setup.contains("./proclab --version"), "{setup}");
    hand_in(&root.join("submission"));
    run_autograder(&root);
    let json = read_json(&root.join("results/results.json"));
    assert_valid(&schema("gradescope.schema.json"), &json);
    assert_eq!(json["output_format"], "text");
    assert_eq!(json["visibility"], "visible");
    assert!(json["execution_time"].as_f64().unwrap() > 0.0);
    let tests = json["tests"].as_array().unwrap();
    let named = |prefix: &str| -> Vec<&Value> {
        tests
            .iter()
            .filter(|t| t["name"].as_str().unwrap().starts_with(prefix))
            .collect()
    };
    let start = named("start-target: ");
    let isolation = named("isolation: ");
    assert_eq!(
        start.len() + isolation.len(),
        tests.len(),
        "every name has its exercise"
    );
    assert!(
        start.len() >= 5 && start.iter().all(|t| t["status"] == "passed"),
        "{json:#}"
    );
    let failed: Vec<&str> = isolation
        .iter()
        .filter(|t| t["status"] == "failed")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        !failed.is_empty(),
        "the wrong isolation fails a check: {json:#}"
    );
    let sum: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    assert_eq!(json["score"].as_f64(), Some(sum));
    let output = json["output"].as_str().unwrap();
    assert!(
        output.contains("start-target: pass") && output.contains("isolation: fail"),
        "{output}"
    );
}

#[test]
fn gradescope_results_say_why_when_nothing_can_be_graded() {
    let (_dir, root) = autograder_tree();
    // An empty submission, then one whose only file matches no exercise.
    std::fs::create_dir_all(root.join("submission")).unwrap();
    run_autograder(&root);
    let json = read_json(&root.join("results/results.json"));
    assert_valid(&schema("gradescope.schema.json"), &json);
    assert_eq!(json["score"].as_f64(), Some(0.0));
    assert!(
        json["output"].as_str().unwrap().contains("empty"),
        "{json:#}"
    );

    std::fs::write(root.join("submission/my_homework.py"), "print('hi')\n").unwrap();
    run_autograder(&root);
    let json = read_json(&root.join("results/results.json"));
    assert_valid(&schema("gradescope.schema.json"), &json);
    let output = json["output"].as_str().unwrap();
    assert!(
        output.contains("start_target.py") && output.contains("my_homework.py"),
        "names the expected and the handed-in files: {output}"
    );
    assert_eq!(json["score"].as_f64(), Some(0.0));
}

/// A PrairieLearn course with the bundle merged in, and a `/grade` tree for one job.
fn grade_tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let course = dir.path().join("course");
    let out = package("prairielearn", &course);
    assert!(out.status.success(), "{out:?}");
    let info = read_json(&course.join("info.json"));
    let options = &info["externalGradingOptions"];
    assert_eq!(
        options["entrypoint"],
        "/grade/serverFilesCourse/proclab/run.sh"
    );
    assert_eq!(options["serverFilesCourse"][0], "proclab/");
    let timeout = options["timeout"].as_u64().unwrap();
    assert!((30..=600).contains(&timeout), "{timeout}");
    let run_sh = course.join("serverFilesCourse/proclab/run.sh");
    bash_syntax_ok(&run_sh);
    let grade = dir.path().join("grade");
    std::fs::create_dir_all(&grade).unwrap();
    (dir, grade, run_sh)
}

fn run_prairielearn(grade: &Path, run_sh: &Path) -> Value {
    let out = run(Command::new(run_sh).env("PROCLAB_GRADE_ROOT", grade));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json = read_json(&grade.join("results/results.json"));
    assert_valid(&schema("prairielearn.schema.json"), &json);
    json
}

#[test]
fn prairielearn_grader_scores_a_fraction_and_refuses_what_it_cannot_grade() {
    let (_dir, grade, run_sh) = grade_tree();
    hand_in(&grade.join("student"));
    let json = run_prairielearn(&grade, &run_sh);
    assert_eq!(json["gradable"], true);
    let tests = json["tests"].as_array().unwrap();
    let points: f64 = tests.iter().map(|t| t["points"].as_f64().unwrap()).sum();
    let max: f64 = tests
        .iter()
        .map(|t| t["max_points"].as_f64().unwrap())
        .sum();
    let score = json["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "one right, one wrong: {json:#}");
    assert!((score - points / max).abs() < 1e-9, "{json:#}");
    assert!(tests.iter().all(|t| {
        let name = t["name"].as_str().unwrap();
        name.starts_with("start-target: ") || name.starts_with("isolation: ")
    }));

    // An empty student folder: not gradable, the attempt does not count.
    std::fs::remove_dir_all(grade.join("student")).unwrap();
    std::fs::create_dir_all(grade.join("student")).unwrap();
    let json = run_prairielearn(&grade, &run_sh);
    assert_eq!(json["gradable"], false);
    assert!(
        json["message"].as_str().unwrap().contains("empty"),
        "{json:#}"
    );

    // Only a file that is no exercise's: not gradable either, and the message says so.
    std::fs::write(grade.join("student/solution.py"), "print('hi')\n").unwrap();
    let json = run_prairielearn(&grade, &run_sh);
    assert_eq!(json["gradable"], false);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("solution.py") && message.contains("start-target"),
        "{message}"
    );
}
fn yaml_str<'a>(node: &'a yaml_rust2::Yaml, key: &str) -> &'a str {
    node[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {node:?}"))
}

#[test]
fn github_classroom_workflow_has_one_test_per_exercise_with_the_right_commands() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("template");
    let out = package("github-classroom", &repo);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(repo.join(".github/workflows/classroom.yml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("valid YAML");
    let job = &docs[0]["jobs"]["run-autograding-tests"];
    let steps = job["steps"].as_vec().expect("steps");
    let graders: Vec<&yaml_rust2::Yaml> = steps
        .iter()
        .filter(|s| s["uses"].as_str() == Some("classroom-resources/autograding-command-grader@v1"))
        .collect();
    let ids: Vec<&str> = graders.iter().map(|s| yaml_str(s, "id")).collect();
    assert_eq!(ids, ["start-target", "isolation"]);
    for (step, (id, file, points)) in graders.iter().zip([
        ("start-target", "start_target.py", 8),
        ("isolation", "isolation.py", 5),
    ]) {
        let with = &step["with"];
        assert_eq!(yaml_str(with, "test-name"), id);
        let command = yaml_str(with, "command");
        for part in [
            format!("proclab grade {id} "),
            format!("--report junit=proclab-results/{id}.xml"),
            format!("--report json=proclab-results/{id}.json"),
            format!("-- python3 {file}"),
        ] {
            assert!(command.contains(&part), "{command} lacks {part}");
        }
        assert_eq!(with["max-score"].as_i64(), Some(points), "{with:?}");
        assert!(with["timeout"].as_i64().unwrap() >= 1);
    }
    let reporter = steps
        .iter()
        .find(|s| s["uses"].as_str() == Some("classroom-resources/autograding-grading-reporter@v1"))
        .expect("the reporter step");
    assert_eq!(
        yaml_str(&reporter["with"], "runners"),
        "start-target,isolation"
    );
    assert_eq!(
        yaml_str(&reporter["env"], "START-TARGET_RESULTS"),
        "${{steps.start-target.outputs.result}}"
    );
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("the reports are kept");
    assert_eq!(yaml_str(&upload["with"], "path"), "proclab-results/");
    assert_eq!(yaml_str(upload, "if"), "always()");
    let shipped = repo.join(".github/proclab/proclab");
    assert!(shipped.metadata().unwrap().permissions().mode() & 0o111 != 0);

    // Run the first test's command as the action does (in the checkout, proclab on PATH).
    hand_in(&repo);
    std::fs::create_dir_all(repo.join("proclab-results")).unwrap();
    let command = yaml_str(&graders[0]["with"], "command");
    let script = command
        .strip_prefix("bash -c \"")
        .and_then(|c| c.strip_suffix('"'))
        .expect("a bash -c command");
    let path = format!(
        "{}:{}",
        shipped.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(Command::new("bash")
        .args(["-c", script])
        .env("PATH", path)
        .current_dir(&repo));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "stderr joins stdout: {out:?}");
    assert!(repo.join("proclab-results/start-target.xml").is_file());
    assert_eq!(
        read_json(&repo.join("proclab-results/start-target.json"))["verdict"],
        "pass"
    );
}

/// A class configuration (another file name, an exercise file with other points).
fn class_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(
        dir.join("specs/st.toml"),
        "exercise = \"start-target\"\n[points]\nconcurrent = 10\n",
    )
    .unwrap();
    let config = dir.join("class.toml");
    std::fs::write(
        &config,
        "[exercises.start-target]\nfile = \"hw1.py\"\nspec = \"specs/st.toml\"\n",
    )
    .unwrap();
    config
}

#[test]
fn a_class_configuration_travels_with_the_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let config = class_config(&dir.path().join("conf"));
    let zip = dir.path().join("autograder.zip");
    let out = run(Command::new(proclab())
        .args(["package", "gradescope", "-e", "start-target", "--config"])
        .arg(&config)
        .arg("-o")
        .arg(&zip));
    assert!(out.status.success(), "{out:?}");
    let root = dir.path().join("autograder");
    std::fs::create_dir_all(root.join("source")).unwrap();
    let names: Vec<String> = unzip(&zip, &root.join("source"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        names.contains(&"proclab-config/class.toml".to_string())
            && names.contains(&"proclab-config/specs/st.toml".to_string()),
        "{names:?}"
    );
    std::fs::create_dir_all(root.join("submission")).unwrap();
    std::fs::copy(
        fixtures().join("python/start_target/good.py"),
        root.join("submission/hw1.py"),
    )
    .unwrap();
    run_autograder(&root);
    let json = read_json(&root.join("results/results.json"));
    assert_valid(&schema("gradescope.schema.json"), &json);
    let concurrent = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "start-target: concurrent")
        .cloned()
        .unwrap_or_else(|| panic!("hw1.py graded as start-target: {json:#}"));
    assert_eq!(concurrent["max_score"].as_f64(), Some(10.0), "{json:#}");
    assert_eq!(json["score"].as_f64(), Some(17.0), "{json:#}");

    // GitHub Classroom: the same file name and exercise file in the test command.
    let repo = dir.path().join("repo");
    let out = run(Command::new(proclab())
        .args([
            "package",
            "github-classroom",
            "-e",
            "start-target",
            "--config",
        ])
        .arg(&config)
        .arg("-o")
        .arg(&repo));
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(repo.join(".github/workflows/classroom.yml")).unwrap();
    assert!(
        text.contains("--exercise-file .github/proclab/proclab-config/specs/st.toml")
            && text.contains("-- python3 hw1.py")
            && text.contains("max-score: 17"),
        "{text}"
    );
    assert!(
        repo.join(".github/proclab/proclab-config/specs/st.toml")
            .is_file()
    );
}
