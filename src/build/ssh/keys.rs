//! SSH private keys read from files for berth's own agent: OpenSSH's format
//! (`BEGIN OPENSSH PRIVATE KEY`) and PEM (PKCS#1 `BEGIN RSA PRIVATE KEY`, PKCS#8
//! `BEGIN PRIVATE KEY`), RSA and Ed25519, as Go's `ssh.ParseRawPrivateKey` reads
//! them for BuildKit.
//!
//! Signing is ring's (constant-time RSA); the `ssh-key` and `rsa` crates only
//! parse OpenSSH's container and turn its RSA numbers into PKCS#1 for ring.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

use super::wire;

/// How much of a key file is read at most (BuildKit reads 100 KiB too).
const MAX_KEY_FILE: u64 = 100 * 1024;

/// A private key the agent signs with.
pub struct Key {
    pair: Pair,
    /// The public key in SSH wire format (what `ssh-add -L` prints in base64).
    pub blob: Vec<u8>,
    /// The key's comment (OpenSSH format only; PEM has none).
    pub comment: String,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// The RSA signature algorithms of RFC 8332 an agent client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaHash {
    /// `rsa-sha2-256` (SSH_AGENT_RSA_SHA2_256).
    Sha256,
    /// `rsa-sha2-512` (SSH_AGENT_RSA_SHA2_512).
    Sha512,
}

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key is protected by a passphrase berth cannot ask for.
    #[error("{path}: the private key is encrypted with a passphrase; berth cannot ask for it: add the key to ssh-agent and use `--ssh default` (or ID=$SSH_AUTH_SOCK) instead")]
    Encrypted {
        /// The key file.
        path: PathBuf,
    },
    /// Not a private key berth can use.
    #[error("{path}: {why}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private part.
        f.debug_struct("Key")
            .field("type", &self.kind())
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// Reads the private key in `path`.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        use std::io::Read;
        let mut text = vec![];
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_KEY_FILE).read_to_end(&mut text))
            .map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Key::parse(&text).map_err(|e| match e {
            Parse::Encrypted => KeyError::Encrypted {
                path: path.to_path_buf(),
            },
            Parse::Invalid(why) => KeyError::Invalid {
                path: path.to_path_buf(),
                why,
            },
        })
    }

    /// The key's SSH type name (`ssh-rsa`, `ssh-ed25519`).
    pub fn kind(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "ssh-rsa",
            Pair::Ed25519(_) => "ssh-ed25519",
        }
    }

    /// Signs `data` as an SSH signature blob (`string algorithm, string sig`).
    /// `rsa` picks the hash of an RSA key; `None` for an RSA key is the legacy
    /// SHA-1 `ssh-rsa` signature, which berth does not make.
    pub fn sign(&self, data: &[u8], rsa: Option<RsaHash>) -> Option<Vec<u8>> {
        let mut out = vec![];
        match &self.pair {
            Pair::Ed25519(kp) => {
                wire::put_string(&mut out, b"ssh-ed25519");
                wire::put_string(&mut out, kp.sign(data).as_ref());
            }
            Pair::Rsa(kp) => {
                let (name, alg): (&[u8], &'static dyn signature::RsaEncoding) = match rsa? {
                    RsaHash::Sha256 => (b"rsa-sha2-256", &signature::RSA_PKCS1_SHA256),
                    RsaHash::Sha512 => (b"rsa-sha2-512", &signature::RSA_PKCS1_SHA512),
                };
                let mut sig = vec![0u8; kp.public().modulus_len()];
                // PKCS#1 v1.5 padding takes no randomness; ring asks for a source anyway.
                kp.sign(alg, &SystemRandom::new(), data, &mut sig).ok()?;
                wire::put_string(&mut out, name);
                wire::put_string(&mut out, &sig);
            }
        }
        Some(out)
    }

    fn parse(text: &[u8]) -> Result<Key, Parse> {
        let s = String::from_utf8_lossy(text);
        if s.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            return openssh(&s);
        }
        // Legacy PEM encryption (`Proc-Type: 4,ENCRYPTED`) and PKCS#8's encrypted form.
        if s.contains("ENCRYPTED") {
            return Err(Parse::Encrypted);
        }
        pem(text)
    }

    fn rsa(kp: RsaKeyPair, comment: String) -> Key {
        let c: ring::rsa::PublicKeyComponents<Vec<u8>> = kp.public().into();
        let mut blob = vec![];
        wire::put_string(&mut blob, b"ssh-rsa");
        wire::put_mpint(&mut blob, &c.e);
        wire::put_mpint(&mut blob, &c.n);
        Key {
            pair: Pair::Rsa(kp),
            blob,
            comment,
        }
    }

    fn ed25519(kp: Ed25519KeyPair, comment: String) -> Key {
        let mut blob = vec![];
        wire::put_string(&mut blob, b"ssh-ed25519");
        wire::put_string(&mut blob, kp.public_key().as_ref());
        Key {
            pair: Pair::Ed25519(kp),
            blob,
            comment,
        }
    }
}

enum Parse {
    Encrypted,
    Invalid(String),
}

fn invalid(why: impl std::fmt::Display) -> Parse {
    Parse::Invalid(why.to_string())
}

fn rsa_rejected(e: ring::error::KeyRejected) -> Parse {
    invalid(format!(
        "the RSA key is not usable ({e}; keys of 2048 to 4096 bits are)"
    ))
}

fn openssh(text: &str) -> Result<Key, Parse> {
    use ssh_key::private::KeypairData;
    let key = ssh_key::PrivateKey::from_openssh(text)
        .map_err(|e| invalid(format!("not a valid OpenSSH private key: {e}")))?;
    if key.is_encrypted() {
        return Err(Parse::Encrypted);
    }
    let comment = key.comment().to_string();
    match key.key_data() {
        KeypairData::Ed25519(kp) => {
            let kp = Ed25519KeyPair::from_seed_and_public_key(
                &kp.private.to_bytes(),
                kp.public.as_ref(),
            )
            .map_err(|e| invalid(format!("the Ed25519 key is not consistent: {e}")))?;
            Ok(Key::ed25519(kp, comment))
        }
        KeypairData::Rsa(kp) => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            // Built from the numbers here: ssh-key 0.6's own conversion passes p twice.
            let big = |m: &ssh_key::Mpint| {
                m.as_positive_bytes()
                    .map(rsa::BigUint::from_bytes_be)
                    .ok_or_else(|| invalid("the RSA key has a negative number"))
            };
            let key = rsa::RsaPrivateKey::from_components(
                big(&kp.public.n)?,
                big(&kp.public.e)?,
                big(&kp.private.d)?,
                vec![big(&kp.private.p)?, big(&kp.private.q)?],
            )
            .map_err(|e| invalid(format!("the RSA key is not consistent: {e}")))?;
            let der = key
                .to_pkcs1_der()
                .map_err(|e| invalid(format!("the RSA key is not consistent: {e}")))?;
            let kp = RsaKeyPair::from_der(der.as_bytes()).map_err(rsa_rejected)?;
            Ok(Key::rsa(kp, comment))
        }
        other => Err(invalid(format!(
            "{} keys are not supported by berth's agent (RSA and Ed25519 are); \
             load it into ssh-agent and forward that with `--ssh default`",
            other.algorithm().map(|a| a.to_string()).unwrap_or_default()
        ))),
    }
}

fn pem(text: &[u8]) -> Result<Key, Parse> {
    use rustls_pemfile::Item;
    let mut rd = text;
    loop {
        let item = rustls_pemfile::read_one(&mut rd)
            .map_err(|e| invalid(format!("not a PEM or OpenSSH private key: {e:?}")))?;
        match item {
            None => {
                return Err(invalid(
                    "no private key in the file (OpenSSH or PEM format, RSA or Ed25519)",
                ))
            }
            Some(Item::Pkcs1Key(der)) => {
                let kp = RsaKeyPair::from_der(der.secret_pkcs1_der()).map_err(rsa_rejected)?;
                return Ok(Key::rsa(kp, String::new()));
            }
            Some(Item::Pkcs8Key(der)) => {
                let der = der.secret_pkcs8_der();
                if let Ok(kp) = RsaKeyPair::from_pkcs8(der) {
                    return Ok(Key::rsa(kp, String::new()));
                }
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| {
                    invalid("the PKCS#8 key is neither a usable RSA nor an Ed25519 key")
                })?;
                return Ok(Key::ed25519(kp, String::new()));
            }
            Some(Item::Sec1Key(_)) => {
                return Err(invalid(
                    "ECDSA keys are not supported by berth's agent (RSA and Ed25519 are); \
                     load it into ssh-agent and forward that with `--ssh default`",
                ))
            }
            // Certificates and public keys beside the private key are skipped.
            Some(_) => continue,
        }
    }
}
