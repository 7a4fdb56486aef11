//! TLS against a private cluster with certificates made in the test (openssl): every sslmode,
//! and clear failures for a wrong CA, a wrong host name, and a server without TLS.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pgbaked_testing::PrivateCluster;

const APP: &str = env!("CARGO_BIN_EXE_app");

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate for `localhost` signed by it.
fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let key = format!("{ca}.key");
        let crt = format!("{ca}.crt");
        let subject = format!("/CN=app test {ca}");
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend([
            "-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subject,
        ]);
        openssl(dir, &args);
    }
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &args);
    fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

struct TlsServer {
    cluster: PrivateCluster,
    certs: PathBuf,
}

fn tls_server() -> TlsServer {
    let certs = std::env::temp_dir().join(format!("app-tls-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&certs);
    fs::create_dir_all(&certs).unwrap();
    make_certs(&certs);
    let source = certs.clone();
    let cluster = PrivateCluster::start(
        &[
            "ssl = on",
            "ssl_cert_file = 'server.crt'",
            "ssl_key_file = 'server.key'",
        ],
        move |data| {
            for file in ["server.crt", "server.key"] {
                fs::copy(source.join(file), data.join(file))?;
            }
            // The server refuses a key that others can read, and runs as postgres.
            fs::set_permissions(
                data.join("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )?;
            for file in ["server.crt", "server.key"] {
                let owner = fs::metadata(data)?;
                std::os::unix::fs::chown(
                    data.join(file),
                    Some(std::os::unix::fs::MetadataExt::uid(&owner)),
                    Some(std::os::unix::fs::MetadataExt::gid(&owner)),
                )?;
            }
            Ok(())
        },
    )
    .unwrap();
    TlsServer { cluster, certs }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.certs);
    }
}

impl TlsServer {
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres:tls-secret@{host}:{}/postgres?{query}",
            self.cluster.port()
        )
    }

    fn cert(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }
}

fn current(url: &str) -> Output {
    Command::new(APP)
        .args(["migrate", "current"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "base\n");
}

fn assert_fails_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("tls-secret"), "{stderr}");
}

#[test]
fn every_sslmode_against_a_tls_server() {
    let server = tls_server();
    let ca = server.cert("ca.crt");

    assert_ok(&current(&server.url("127.0.0.1", "sslmode=require")));
    assert_ok(&current(&server.url("127.0.0.1", "sslmode=prefer")));
    assert_ok(&current(&server.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )));
    // verify-ca checks the chain, not the name.
    assert_ok(&current(
        &server.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
    ));

    // The certificate names localhost, not 127.0.0.1.
    assert_fails_with(
        &current(&server.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        )),
        "certificate not valid for name",
    );
    // A CA that did not sign the server's certificate.
    let other = server.cert("other-ca.crt");
    assert_fails_with(
        &current(&server.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other}"),
        )),
        "invalid peer certificate: UnknownIssuer",
    );
    // libpq's rule: require with a root certificate verifies the chain.
    assert_fails_with(
        &current(&server.url("localhost", &format!("sslmode=require&sslrootcert={other}"))),
        "invalid peer certificate: UnknownIssuer",
    );
    assert_fails_with(
        &current(&server.url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        )),
        "sslrootcert /nonexistent/ca.crt: ",
    );
}

#[test]
fn require_fails_clearly_against_a_server_without_tls() {
    let plain = PrivateCluster::start(&["ssl = off"], |_| Ok(())).unwrap();
    let url = format!(
        "postgres://postgres:tls-secret@127.0.0.1:{}/postgres?sslmode=require",
        plain.port()
    );
    assert_fails_with(&current(&url), "server does not support TLS");
    let disabled = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        plain.port()
    );
    assert_ok(&current(&disabled));
}
