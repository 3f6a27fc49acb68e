//! Shared helpers for the image tests: a real `docker-registry` on loopback,
//! OCI layouts built from busybox-static, `skopeo` as the independent client.
#![allow(dead_code)]

use berth::image::digest::Digest;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A registry process that is killed when dropped.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    pub user: Option<(String, String)>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts a registry; with `auth`, htpasswd basic auth for user `berth` / `s3cret`.
    pub fn start(auth: bool) -> Registry {
        Self::start_with(auth, false)
    }

    /// Starts a registry serving HTTPS with a certificate from a test CA, whose
    /// certificate is then in `<dir>/certs.d/127.0.0.1:<port>/ca.crt`.
    pub fn start_tls() -> Registry {
        Self::start_with(false, true)
    }

    /// Starts a registry that delegates auth to `tokens` (the bearer-token flow Docker Hub uses).
    pub fn start_token(tokens: &TokenServer) -> Registry {
        let extra = format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: berth-test\n    issuer: berth-issuer\n    rootcertbundle: {}\n",
            tokens.port,
            tokens.dir.path().join("token.crt").display()
        );
        for _ in 0..5 {
            if let Some(mut r) = Self::try_start_cfg(false, false, &extra) {
                r.user = Some(("berth".into(), "s3cret".into()));
                return r;
            }
        }
        panic!("could not start docker-registry");
    }

    fn start_with(auth: bool, tls: bool) -> Registry {
        for _ in 0..5 {
            if let Some(r) = Self::try_start_cfg(auth, tls, "") {
                return r;
            }
        }
        panic!("could not start docker-registry");
    }

    fn try_start_cfg(auth: bool, tls: bool, extra: &str) -> Option<Registry> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let user = if auth {
            let hash = bcrypt::hash("s3cret", 4).unwrap();
            std::fs::write(dir.path().join("htpasswd"), format!("berth:{hash}\n")).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
            Some(("berth".to_string(), "s3cret".to_string()))
        } else {
            None
        };
        if tls {
            let d = dir.path();
            let ssl = |args: &[&str]| {
                let mut c = Command::new("openssl");
                c.current_dir(d).args(args);
                run(c);
            };
            let ec = [
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ];
            ssl(&[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=berth test CA",
                ],
            ]
            .concat());
            ssl(&[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat());
            std::fs::write(
                d.join("ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            ssl(&[
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
                "ext",
            ]);
            let certs = d.join(format!("certs.d/127.0.0.1:{port}"));
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::copy(d.join("ca.crt"), certs.join("ca.crt")).unwrap();
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("server.crt").display(),
                d.join("server.key").display()
            ));
        }
        cfg.push_str(extra);
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry is installed (scripts/setup)");
        let mut reg = Registry {
            port,
            dir,
            child,
            user,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = reg.child.try_wait() {
                return None; // port taken by a parallel test: try another
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(reg);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Path of a blob in the registry's storage (to corrupt it).
    pub fn blob_data(&self, d: &Digest) -> PathBuf {
        self.dir.path().join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{}/data",
            &d.hex()[..2],
            d.hex()
        ))
    }

    fn creds_args(&self, flag: &str) -> Vec<String> {
        match &self.user {
            Some((u, p)) => vec![format!("{flag}={u}:{p}")],
            None => vec![],
        }
    }

    /// `skopeo copy [--all] oci:<layout>:<tag> docker://<this>/<repo>:<tag>`.
    pub fn push_layout(&self, layout: &Path, tag: &str, repo_tag: &str, all: bool) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"]);
        cmd.args(self.creds_args("--dest-creds"));
        if all {
            cmd.arg("--all");
        }
        cmd.arg(format!("oci:{}:{tag}", layout.display()));
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        run(cmd);
    }

    /// `skopeo inspect --raw` of a reference in this registry.
    pub fn inspect_raw(&self, repo_tag: &str) -> Vec<u8> {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--tls-verify=false",
        ]);
        cmd.args(self.creds_args("--creds"));
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        run(cmd)
    }

    /// `skopeo copy docker://… oci:<dest>:<tag>`.
    pub fn fetch_to_layout(&self, repo_tag: &str, dest: &Path, tag: &str) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "-q", "--src-tls-verify=false"]);
        cmd.args(self.creds_args("--src-creds"));
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        cmd.arg(format!("oci:{}:{tag}", dest.display()));
        run(cmd);
    }
}

pub fn run(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One entry of a test layer.
#[derive(Clone)]
pub enum E {
    Dir(&'static str, u32),
    File(&'static str, Vec<u8>, u32),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Fifo(&'static str),
    Char(&'static str, u32, u32),
    /// Any raw name with a type byte, for malicious archives.
    Raw(Vec<u8>, tar::EntryType, Vec<u8>, Option<Vec<u8>>),
}

/// Builds a tar from entries, writing names raw (no sanitising), so tests can make evil ones.
pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        #[allow(clippy::type_complexity)]
        let (name, kind, data, link, mode, dev): (
            Vec<u8>,
            tar::EntryType,
            Vec<u8>,
            Option<Vec<u8>>,
            u32,
            (u32, u32),
        ) = match e.clone() {
            E::Dir(n, m) => (n.into(), tar::EntryType::Directory, vec![], None, m, (0, 0)),
            E::File(n, d, m) => (n.into(), tar::EntryType::Regular, d, None, m, (0, 0)),
            E::Symlink(n, t) => (
                n.into(),
                tar::EntryType::Symlink,
                vec![],
                Some(t.into()),
                0o777,
                (0, 0),
            ),
            E::Hardlink(n, t) => (
                n.into(),
                tar::EntryType::Link,
                vec![],
                Some(t.into()),
                0o644,
                (0, 0),
            ),
            E::Fifo(n) => (n.into(), tar::EntryType::Fifo, vec![], None, 0o600, (0, 0)),
            E::Char(n, a, b) => (n.into(), tar::EntryType::Char, vec![], None, 0o666, (a, b)),
            E::Raw(n, k, d, l) => (n, k, d, l, 0o644, (0, 0)),
        };
        let mut h = tar::Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            assert!(name.len() < 100);
            g.name[..name.len()].copy_from_slice(&name);
            if let Some(l) = &link {
                g.linkname[..l.len()].copy_from_slice(l);
            }
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(1_600_000_000);
        if dev != (0, 0) {
            h.set_device_major(dev.0).unwrap();
            h.set_device_minor(dev.1).unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(b, 3).unwrap()
}

pub fn busybox() -> Vec<u8> {
    std::fs::read("/bin/busybox").expect("busybox-static is installed (scripts/setup)")
}

/// The base layer: busybox with a few applet links, and one of everything.
pub fn base_layer() -> Vec<E> {
    vec![
        E::Dir("bin/", 0o755),
        E::File("bin/busybox", busybox(), 0o755),
        E::Symlink("bin/sh", "busybox"),
        E::Symlink("bin/ls", "/bin/busybox"),
        E::Hardlink("bin/busybox-hard", "bin/busybox"),
        E::Dir("etc/", 0o755),
        E::File(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
            0o644,
        ),
        E::File("etc/motd", b"hello from layer one\n".to_vec(), 0o644),
        E::Dir("var/", 0o755),
        E::Dir("var/cache/", 0o755),
        E::File("var/cache/old", b"stale\n".to_vec(), 0o600),
        E::Fifo("run-fifo"),
        E::Char("dev-null", 1, 3),
        E::File("bin/suid", b"#!/bin/sh\n".to_vec(), 0o4755),
    ]
}

/// A second layer: a whiteout, an opaque dir, a changed file.
pub fn top_layer() -> Vec<E> {
    vec![
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.motd", vec![], 0o644),
        E::File("etc/hostname", b"berth\n".to_vec(), 0o644),
        E::Dir("var/cache/", 0o755),
        E::File("var/cache/.wh..wh..opq", vec![], 0o644),
        E::File("var/cache/new", b"fresh\n".to_vec(), 0o644),
    ]
}

/// A blob written into a layout.
pub fn put_blob(layout: &Path, bytes: &[u8]) -> (Digest, u64) {
    let d = Digest::of(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.hex()), bytes).unwrap();
    (d, bytes.len() as u64)
}

pub fn desc(media_type: &str, d: &(Digest, u64)) -> serde_json::Value {
    serde_json::json!({"mediaType": media_type, "digest": d.0.to_string(), "size": d.1})
}

/// Writes an image (layers given as plain tars; compressed as `comp`) into a layout;
/// returns the manifest descriptor JSON.
pub fn write_image(
    layout: &Path,
    layers: &[Vec<u8>],
    comp: &str,
    arch: &str,
    cmd: &[&str],
) -> serde_json::Value {
    let mut diff_ids = vec![];
    let mut descs = vec![];
    for l in layers {
        diff_ids.push(Digest::of(l).to_string());
        let (bytes, mt) = match comp {
            "gzip" => (gzip(l), "application/vnd.oci.image.layer.v1.tar+gzip"),
            "zstd" => (zstd(l), "application/vnd.oci.image.layer.v1.tar+zstd"),
            _ => (l.clone(), "application/vnd.oci.image.layer.v1.tar"),
        };
        descs.push(desc(mt, &put_blob(layout, &bytes)));
    }
    let config = serde_json::json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch, "os": "linux",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"], "WorkingDir": "/", "User": "1000:1000",
                   "ExposedPorts": {"8080/tcp": {}}, "Volumes": {"/data": {}},
                   "Labels": {"org.example": "berth"}, "StopSignal": "SIGINT",
                   "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000i64}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let cfg = put_blob(layout, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &cfg),
        "layers": descs,
    });
    let m = put_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    let mut d = desc("application/vnd.oci.image.manifest.v1+json", &m);
    d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
    d
}

/// Finishes a layout with `index.json` naming `top` under `tag`.
pub fn finish_layout(layout: &Path, top: serde_json::Value, tag: &str) {
    let mut top = top;
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

/// A layout holding the two-layer busybox image under `tag`.
pub fn busybox_layout(layout: &Path, comp: &str, tag: &str) -> serde_json::Value {
    let d = write_image(
        layout,
        &[tar_of(&base_layer()), tar_of(&top_layer())],
        comp,
        host_arch(),
        &["sh"],
    );
    finish_layout(layout, d.clone(), tag);
    d
}

pub fn host_arch() -> &'static str {
    berth::image::Platform::host().architecture.leak()
}

/// Checks the two unpacked busybox layers (bottom first).
pub fn check_busybox_layers(dirs: &[PathBuf]) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    assert_eq!(dirs.len(), 2);
    let (l0, l1) = (&dirs[0], &dirs[1]);
    assert_eq!(std::fs::read(l0.join("bin/busybox")).unwrap(), busybox());
    assert_eq!(
        std::fs::read_link(l0.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read_link(l0.join("bin/ls")).unwrap(),
        Path::new("/bin/busybox")
    );
    let a = std::fs::metadata(l0.join("bin/busybox")).unwrap();
    let b = std::fs::metadata(l0.join("bin/busybox-hard")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hardlink shares the inode");
    assert_eq!(a.permissions().mode() & 0o7777, 0o755);
    assert_eq!((a.uid(), a.gid()), (1000, 1000));
    assert_eq!(a.mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::metadata(l0.join("bin/suid"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o4755
    );
    assert_eq!(
        std::fs::metadata(l0.join("var/cache/old"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(std::fs::symlink_metadata(l0.join("run-fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let null = std::fs::symlink_metadata(l0.join("dev-null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(
        std::fs::metadata(l0.join("etc")).unwrap().mtime(),
        1_600_000_000
    );
    // Top layer: whiteout as a 0/0 char device, opaque dir as an xattr.
    let wh = std::fs::symlink_metadata(l1.join("etc/motd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!l1.join("etc/.wh.motd").exists());
    assert!(!l1.join("var/cache/.wh..wh..opq").exists());
    assert_eq!(
        xattr(&l1.join("var/cache"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(xattr(&l0.join("var/cache"), "trusted.overlay.opaque"), None);
    assert_eq!(std::fs::read(l1.join("var/cache/new")).unwrap(), b"fresh\n");
    assert_eq!(std::fs::read(l1.join("etc/hostname")).unwrap(), b"berth\n");
}

pub fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer.
    let n =
        unsafe { libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// A minimal token server for the registry's `token` auth: anonymous callers get pull
/// access, `berth`/`s3cret` gets pull and push. Tokens are ES256 JWTs whose `x5c` names
/// a self-signed certificate the registry trusts.
pub struct TokenServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn query_params(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8_lossy(&out).into_owned())
        })
        .collect()
}

impl TokenServer {
    pub fn start() -> TokenServer {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ssl = |args: &[&str]| {
            let mut c = Command::new("openssl");
            c.current_dir(d).args(args);
            run(c);
        };
        ssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "tk.pem",
        ]);
        ssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", "tk.pem", "-outform", "DER", "-out", "tk.p8",
        ]);
        ssl(&[
            "req",
            "-x509",
            "-key",
            "tk.pem",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth token signer",
        ]);
        ssl(&[
            "x509",
            "-in",
            "token.crt",
            "-outform",
            "DER",
            "-out",
            "token.der",
        ]);
        let pkcs8 = std::fs::read(d.join("tk.p8")).unwrap();
        let cert_der = std::fs::read(d.join("token.der")).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &rng,
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (reqs, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            use base64::Engine as _;
            let x5c = base64::engine::general_purpose::STANDARD.encode(&cert_der);
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                let (mut conn, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                conn.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line
                        .strip_prefix("Authorization: Basic ")
                        .or_else(|| line.strip_prefix("authorization: Basic "))
                    {
                        let dec = base64::engine::general_purpose::STANDARD
                            .decode(v.trim())
                            .unwrap_or_default();
                        authorized = dec == b"berth:s3cret";
                        if !authorized {
                            let _ = conn.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                            continue;
                        }
                    }
                }
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                reqs.lock()
                    .unwrap()
                    .push(format!("{target} authorized={authorized}"));
                let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
                let mut access = Vec::new();
                for (k, v) in query_params(query) {
                    if k != "scope" {
                        continue;
                    }
                    let mut parts = v.splitn(3, ':');
                    let (kind, name, actions) = (
                        parts.next().unwrap_or(""),
                        parts.next().unwrap_or(""),
                        parts.next().unwrap_or(""),
                    );
                    let granted: Vec<&str> = actions
                        .split(',')
                        .filter(|a| *a == "pull" || (authorized && *a == "push"))
                        .collect();
                    access
                        .push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
                let claims = serde_json::json!({
                    "iss": "berth-issuer", "sub": if authorized { "berth" } else { "" }, "aud": "berth-test",
                    "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("{now}-{}", reqs.lock().unwrap().len()),
                    "access": access,
                });
                let signing_input = format!(
                    "{}.{}",
                    b64url(&serde_json::to_vec(&header).unwrap()),
                    b64url(&serde_json::to_vec(&claims).unwrap())
                );
                let sig = key.sign(&rng, signing_input.as_bytes()).unwrap();
                let token = format!("{signing_input}.{}", b64url(sig.as_ref()));
                let body =
                    serde_json::json!({"token": token, "access_token": token, "expires_in": 300})
                        .to_string();
                let _ = conn.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
                );
            }
        });
        TokenServer {
            port,
            dir,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}
