//! Helpers shared by the migrate tests, and tests of the whole flow.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

/// An obviously fake value that the test classifier flags.
pub(super) fn secret(label: &str) -> String {
    format!("wsecret-{label}-0f1e2d3c4b5a6978")
}

/// Flags anything holding a [`secret`].
pub(super) fn classify(_key: &str, value: &str) -> Option<String> {
    value.contains("wsecret").then(|| "test-rule".to_owned())
}

/// A store in a map.
#[derive(Default)]
pub(super) struct MapStore(pub BTreeMap<String, String>);

impl Existing for MapStore {
    fn get(&self, name: &SecretName) -> Result<Option<SecretValue>, BoxError> {
        Ok(self
            .0
            .get(name.as_str())
            .map(|v| SecretValue::from(v.clone())))
    }
}

/// Runs one file through a fresh migrator.
pub(super) struct Fixture {
    pub home: Option<PathBuf>,
    pub store: MapStore,
    pub last: Option<FilePlan>,
    /// The secrets the last run would store, as (name, value).
    pub secrets: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            home: None,
            store: MapStore::default(),
            last: None,
            secrets: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn run(&mut self, file: &str, text: &str) -> String {
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let launcher = Launcher {
            command: "warrant".into(),
            home: self.home.clone(),
        };
        let mut migrator = Migrator::new(&classify, &self.store, launcher);
        let plan = migrator.plan(&Source::named(path)).unwrap().unwrap();
        self.secrets = migrator
            .secrets()
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8(v.expose_secret().to_vec()).unwrap();
                (n.to_string(), v)
            })
            .collect();
        let after = plan.plan.after.clone();
        self.last = Some(plan);
        after
    }

    pub fn run_toml(&mut self, text: &str) -> String {
        self.run("config.toml", text)
    }

    pub fn run_json(&mut self, text: &str) -> String {
        self.run("mcp.json", text)
    }
}

#[test]
fn the_diff_masks_every_value_and_apply_keeps_a_backup() {
    let token = secret("tok");
    let header = secret("hdr");
    let text = format!(
        "{{\n  \"mcpServers\": {{\n    \"gh\": {{\n      \"command\": \"npx\",\n      \
         \"env\": {{\"TOKEN\": \"{token}\"}}\n    }},\n    \"web\": {{\n      \
         \"url\": \"https://x.test\",\n      \"headers\": {{\"X-Key\": \"{header}\"}}\n    }}\n  }}\n}}\n"
    );
    let mut fx = Fixture::new();
    fx.run_json(&text);
    let plan = fx.last.as_ref().unwrap();
    let d = diff(plan);
    assert!(
        d.contains("-      \"env\": {\"TOKEN\": \"********\"}"),
        "{d}"
    );
    assert!(!d.contains("wsecret-"), "{d}");
    assert!(!format!("{plan:?}").contains("wsecret-"));
    assert_eq!(plan.stored.len(), 1);
    assert_eq!(plan.not_migrated[0].field, "headers.X-Key");

    let backup = apply(plan).unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), text);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !std::fs::read_to_string(plan.path())
            .unwrap()
            .contains(&token)
    );
}

#[test]
fn names_are_shared_across_files_and_a_failed_file_takes_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = MapStore::default();
    let launcher = Launcher {
        command: "warrant".into(),
        home: None,
    };
    let mut migrator = Migrator::new(&classify, &store, launcher);
    let entry = |v: &str| {
        format!(
            "{{\"mcpServers\": {{\"s\": {{\"command\": \"x\", \"env\": {{\"K\": \"{v}\"}}}}}}}}"
        )
    };
    let (a, b) = (secret("a"), secret("b"));
    let files = [
        ("1.json", entry(&a)),
        ("2.json", entry(&b)),
        ("3.json", entry(&a)),
    ];
    let mut names = Vec::new();
    for (file, text) in &files {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let plan = migrator.plan(&Source::named(path)).unwrap().unwrap();
        names.push(plan.servers[0].secrets[0].name.to_string());
    }
    assert_eq!(names, ["mcp/s/k", "mcp/s/k-2", "mcp/s/k"]);
    assert_eq!(migrator.secrets().len(), 2);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, format!("{}, oops", entry(&secret("c")))).unwrap();
    assert!(matches!(
        migrator.plan(&Source::named(bad)),
        Err(Error::File(install::Error::Malformed { .. }))
    ));
    assert!(
        migrator
            .plan(&Source::named(dir.path().join("none.json")))
            .unwrap()
            .is_none()
    );
    assert_eq!(migrator.secrets().len(), 2);
}

/// Fails for names under `mcp/boom/`.
struct Failing;

impl Existing for Failing {
    fn get(&self, name: &SecretName) -> Result<Option<SecretValue>, BoxError> {
        if name.as_str().starts_with("mcp/boom/") {
            return Err("store unreadable".into());
        }
        Ok(None)
    }
}

#[test]
fn a_store_error_fails_the_file_and_takes_back_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let launcher = Launcher {
        command: "warrant".into(),
        home: None,
    };
    let mut migrator = Migrator::new(&classify, &Failing, launcher);
    let path = dir.path().join("f.json");
    let (a, b) = (secret("a"), secret("b"));
    std::fs::write(
        &path,
        format!(
            "{{\"mcpServers\": {{\"ok\": {{\"command\": \"x\", \"env\": {{\"K\": \"{a}\"}}}}, \
             \"boom\": {{\"command\": \"x\", \"env\": {{\"K\": \"{b}\"}}}}}}}}"
        ),
    )
    .unwrap();
    let err = migrator.plan(&Source::named(path.clone())).unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert!(migrator.secrets().is_empty());
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains("warrant://")
    );
}
