use crate::harness::{Home, contains, fake_value, run_sh};

#[test]
fn import_moves_values_into_the_store_and_leaves_references() {
    let home = Home::new();
    let (token, url) = (fake_value("token"), fake_value("url"));
    let dir = home.scratch().join("myapp");
    std::fs::create_dir_all(&dir).unwrap();
    let env = dir.join(".env");
    let original = format!(
        "# settings\nexport API_TOKEN='{token}' # from the console\nDB_URL=\"{url}\"\nALREADY=warrant://x/y\nEMPTY=\n"
    );
    std::fs::write(&env, &original).unwrap();
    let out = home
        .cmd()
        .args(["secret", "import", "--json"])
        .arg(&env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["secrets"],
        serde_json::json!(["myapp/API_TOKEN", "myapp/DB_URL"])
    );
    assert!(!env.exists(), "the original with its values is gone");

    let refs = std::fs::read_to_string(dir.join(".env.warrant")).unwrap();
    assert_eq!(
        refs,
        "# settings\nexport API_TOKEN=warrant://myapp/API_TOKEN # from the console\n\
         DB_URL=warrant://myapp/DB_URL\nALREADY=warrant://x/y\nEMPTY=\n"
    );
    assert!(!contains(&home.all_bytes(), token.as_bytes()));

    let script = format!(r#"[ "$API_TOKEN" = "{token}" ] && [ "$DB_URL" = "{url}" ] && echo both"#);
    let refs_path = dir.join(".env.warrant");
    let (code, out, err) = run_sh(
        &home,
        &[
            "--env-file",
            refs_path.to_str().unwrap(),
            "-e",
            "ALREADY=warrant://myapp/DB_URL",
        ],
        &script,
    );
    assert_eq!((code, out.as_str()), (0, "both\n"), "{err}");
}

#[test]
fn import_keeps_the_original_only_when_asked_and_refuses_clobbering() {
    let home = Home::new();
    let env = home.scratch().join("app.env");
    let value = fake_value("v");
    std::fs::write(&env, format!("K={value}\n")).unwrap();
    home.cmd()
        .args(["secret", "import", "--keep", "--prefix", "proj"])
        .arg(&env)
        .assert()
        .success();
    assert!(env.exists());
    // A second import would overwrite both the reference file and the secret.
    home.cmd()
        .args(["secret", "import", "--prefix", "proj"])
        .arg(&env)
        .assert()
        .failure();
    assert!(env.exists(), "a failed import must not remove the original");
    home.cmd()
        .args(["secret", "import", "--prefix", "proj", "--overwrite"])
        .arg(&env)
        .assert()
        .success();
    assert!(!env.exists());
}

#[test]
fn import_of_a_broken_file_changes_nothing() {
    let home = Home::new();
    let env = home.scratch().join("broken.env");
    std::fs::write(&env, "A=fine-value-here\nB='unclosed-value-xyz\n").unwrap();
    let out = home
        .cmd()
        .args(["secret", "import"])
        .arg(&env)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && !err.contains("unclosed-value") && !err.contains("fine-value"),
        "{err}"
    );
    assert!(env.exists());
    let ls = home
        .cmd()
        .args(["secret", "ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ls.stdout).unwrap(),
        serde_json::json!([])
    );
}
