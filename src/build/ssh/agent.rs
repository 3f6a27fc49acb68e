//! berth's own SSH agent over the keys of `--ssh ID=KEYFILE` (protocol:
//! draft-miller-ssh-agent). It lists its identities and signs with them; every
//! other request (adding, removing, locking, extensions) gets SSH_AGENT_FAILURE,
//! as BuildKit's read-only agent answers.

use std::io::{self, Read, Write};

use super::keys::{Key, RsaHash};
use super::wire::{self, Reader};

/// SSH_AGENT_FAILURE.
pub const FAILURE: u8 = 5;
/// SSH_AGENTC_REQUEST_IDENTITIES.
pub const REQUEST_IDENTITIES: u8 = 11;
/// SSH_AGENT_IDENTITIES_ANSWER.
pub const IDENTITIES_ANSWER: u8 = 12;
/// SSH_AGENTC_SIGN_REQUEST.
pub const SIGN_REQUEST: u8 = 13;
/// SSH_AGENT_SIGN_RESPONSE.
pub const SIGN_RESPONSE: u8 = 14;
/// SSH_AGENT_RSA_SHA2_256 (sign request flag).
pub const RSA_SHA2_256: u32 = 2;
/// SSH_AGENT_RSA_SHA2_512 (sign request flag).
pub const RSA_SHA2_512: u32 = 4;

/// OpenSSH's limit on one agent message (`AGENT_MAX_LEN`).
const MAX_MESSAGE: usize = 256 * 1024;

/// The keys one `--ssh` id stands for.
#[derive(Debug, Default)]
pub struct Keyring {
    /// In the order given.
    pub keys: Vec<Key>,
}

impl Keyring {
    /// The answer (type byte and contents, unframed) to one request.
    pub fn answer(&self, request: &[u8]) -> Vec<u8> {
        let mut r = Reader(request);
        let answer = match r.u8() {
            Some(REQUEST_IDENTITIES) => Some(self.identities()),
            Some(SIGN_REQUEST) => self.sign(&mut r),
            _ => None,
        };
        answer.unwrap_or_else(|| vec![FAILURE])
    }

    fn identities(&self) -> Vec<u8> {
        let mut out = vec![IDENTITIES_ANSWER];
        wire::put_u32(&mut out, self.keys.len() as u32);
        for k in &self.keys {
            wire::put_string(&mut out, &k.blob);
            wire::put_string(&mut out, k.comment.as_bytes());
        }
        out
    }

    fn sign(&self, r: &mut Reader) -> Option<Vec<u8>> {
        let blob = r.string()?;
        let data = r.string()?;
        let flags = r.u32().unwrap_or(0);
        let key = self.keys.iter().find(|k| k.blob == blob)?;
        let rsa = if flags & RSA_SHA2_512 != 0 {
            Some(RsaHash::Sha512)
        } else if flags & RSA_SHA2_256 != 0 {
            Some(RsaHash::Sha256)
        } else {
            None
        };
        let sig = key.sign(data, rsa)?;
        let mut out = vec![SIGN_RESPONSE];
        wire::put_string(&mut out, &sig);
        Some(out)
    }

    /// Answers requests on `conn` until the client hangs up.
    pub fn serve(&self, conn: &mut (impl Read + Write)) -> io::Result<()> {
        while let Some(req) = read_message(conn)? {
            let ans = self.answer(&req);
            let mut framed = Vec::with_capacity(ans.len() + 4);
            wire::put_string(&mut framed, &ans);
            conn.write_all(&framed)?;
        }
        Ok(())
    }
}

/// One framed message (`uint32 length` then that many bytes), or `None` at the end
/// of the stream.
pub fn read_message(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("agent message of {n} bytes"),
        ));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{self, KeyPair, UnparsedPublicKey};

    /// A framed request over an in-memory stream, the answer read back as a client would.
    fn roundtrip(ring: &Keyring, req: &[u8]) -> Vec<u8> {
        struct Duplex {
            input: io::Cursor<Vec<u8>>,
            output: Vec<u8>,
        }
        impl Read for Duplex {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.input.read(b)
            }
        }
        impl Write for Duplex {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.output.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut framed = vec![];
        wire::put_string(&mut framed, req);
        let mut d = Duplex {
            input: io::Cursor::new(framed),
            output: vec![],
        };
        ring.serve(&mut d).unwrap();
        read_message(&mut &d.output[..]).unwrap().unwrap()
    }

    fn write_key(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The (algorithm, signature) of a SIGN_RESPONSE.
    fn signature_of(answer: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut r = Reader(answer);
        assert_eq!(r.u8(), Some(SIGN_RESPONSE), "{answer:?}");
        let mut s = Reader(r.string().unwrap());
        (s.string().unwrap().to_vec(), s.string().unwrap().to_vec())
    }

    fn sign_request(blob: &[u8], data: &[u8], flags: u32) -> Vec<u8> {
        let mut req = vec![SIGN_REQUEST];
        wire::put_string(&mut req, blob);
        wire::put_string(&mut req, data);
        wire::put_u32(&mut req, flags);
        req
    }

    #[test]
    fn lists_identities_and_signs_verifiably() {
        let dir = tempfile::tempdir().unwrap();
        // An Ed25519 key in PKCS#8 PEM, made by ring, and an RSA key in OpenSSH's
        // format (docker/compose's e2e fixture fake_rsa, Apache-2.0).
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref())
        );
        let ed = Key::load(&write_key(dir.path(), "ed", &pem)).unwrap();
        let ed_pub = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let rsa = Key::load(&write_key(dir.path(), "rsa", FAKE_RSA)).unwrap();
        let ring = Keyring {
            keys: vec![rsa, ed],
        };

        let ids = roundtrip(&ring, &[REQUEST_IDENTITIES]);
        let mut r = Reader(&ids);
        assert_eq!(r.u8(), Some(IDENTITIES_ANSWER));
        assert_eq!(r.u32(), Some(2));
        let rsa_blob = r.string().unwrap().to_vec();
        assert_eq!(r.string(), Some(&b""[..]), "fake_rsa has no comment");
        let ed_blob = r.string().unwrap().to_vec();
        assert_eq!(r.string(), Some(&b""[..]));
        // What ssh-add -L prints is the .pub file's key.
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &rsa_blob);
        assert_eq!(format!("ssh-rsa {b64} "), FAKE_RSA_PUB);
        let mut b = Reader(&ed_blob);
        assert_eq!(b.string(), Some(&b"ssh-ed25519"[..]));
        assert_eq!(b.string(), Some(&ed_pub[..]));

        let data = b"session id and userauth request";
        let (alg, sig) = signature_of(&roundtrip(&ring, &sign_request(&ed_blob, data, 0)));
        assert_eq!(alg, b"ssh-ed25519");
        UnparsedPublicKey::new(&signature::ED25519, &ed_pub)
            .verify(data, &sig)
            .expect("the Ed25519 signature verifies");

        // RSA: the public key as PKCS#1 DER (ring verifies with the components).
        let mut b = Reader(&rsa_blob);
        assert_eq!(b.string(), Some(&b"ssh-rsa"[..]));
        // mpints carry a zero byte before a set high bit; ring wants none.
        let mut unsigned = || {
            let m = b.string().unwrap();
            m.strip_prefix(&[0]).unwrap_or(m).to_vec()
        };
        let (e, n) = (unsigned(), unsigned());
        let public = ring::rsa::PublicKeyComponents {
            n: &n[..],
            e: &e[..],
        };
        for (flag, name, alg) in [
            (
                RSA_SHA2_256,
                &b"rsa-sha2-256"[..],
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
            (
                RSA_SHA2_512,
                &b"rsa-sha2-512"[..],
                &signature::RSA_PKCS1_2048_8192_SHA512,
            ),
        ] {
            let (got, sig) = signature_of(&roundtrip(&ring, &sign_request(&rsa_blob, data, flag)));
            assert_eq!(got, name);
            public
                .verify(alg, data, &sig)
                .expect("the RSA signature verifies");
        }
        // Legacy SHA-1, an unknown key, and anything else: failure.
        assert_eq!(
            roundtrip(&ring, &sign_request(&rsa_blob, data, 0)),
            [FAILURE]
        );
        assert_eq!(roundtrip(&ring, &sign_request(b"nope", data, 0)), [FAILURE]);
        assert_eq!(roundtrip(&ring, &[17]), [FAILURE], "add identity");
        assert_eq!(roundtrip(&ring, &[27]), [FAILURE], "extension");
    }

    #[test]
    fn unusable_key_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let enc = write_key(
            dir.path(),
            "enc",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        );
        let e = Key::load(&enc).unwrap_err().to_string();
        assert!(e.contains("enc") && e.contains("encrypted"), "{e}");
        let junk = write_key(dir.path(), "junk", "hello\n");
        let e = Key::load(&junk).unwrap_err().to_string();
        assert!(e.contains("junk") && e.contains("no private key"), "{e}");
        let e = Key::load(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }

    const FAKE_RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDucnjECEntXAjre25rLcMIdpNd4Rj3Yfpg1nym0AgFjSZSfoZz2az3ge9wAp6YImQ7R/LpTYk6hJP6rVg8Al/zo2shTjWFl3OvDZB2ob8DeNrhVMBo4lsf3Bp8oelYuzqTKKAa2LcpIFpubgcBFTyWC1EToC4ILX6bDzbUXNOwxYzFGn+spXGCyIxSx13ntZEo52fxNGbo0dwSzLtfvMAnv4KH+a4YYIKTdn35hTOhVW1j/AZiZZdeP81TPGcSrRcvI7wcL5BT/11aWHU4uagy7E3WVi0dEVZay0Jugo2w5wiImwsp9DW3jPiNerk/slMsTk+eB6auvjErbVEWNVoZCk6PJCBmfWjTAC/Lvwo5HCA3QSXBxv9cgol6nPN7MIjJeVJp95e4c/6gyMzazYxc0eUwq/onCHhBjBRDrX5sBw+RyYh2W2IAw0tzFiKoS53zkRBCX1yK6EwprRtmXU4QgvBVIhqwS70EQpWvPnZllUsYxyGo5X/h/U+o8RqCd+dFgS20noC5phRole9JA/pmPgAVvpas/AQEgU64Af2Lha0bnZAArq5zXCw9mUebwn5WdMQEoW4YRG7+4kFY+jjcuO7xWse5lTxB440REp8ltzUQj1empaL7dVxZPRAm3EQZbZiYPnTn5wo1zfXHA61yrCiC3BPTCe6PQEB/fcdjfw== ";

    const FAKE_RSA: &str = include_str!("../../../tests/fixtures/build-ssh/fake_rsa");
}
