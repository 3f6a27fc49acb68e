//! How `ps` shows containers: docker compose's table and its JSON lines.

use std::time::SystemTime;

use serde::Serialize;

use super::humanize::human_duration;
use super::{ContainerRecord, Health, PortRecord, Status};

/// One published port in `ps --format json` (`Publishers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Publisher {
    /// The host address.
    #[serde(rename = "URL")]
    pub url: String,
    /// The port inside.
    pub target_port: u16,
    /// The port on the host.
    pub published_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// One line of `ps --format json`, with docker compose's keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PsJson {
    /// The container id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The container name.
    pub name: String,
    /// The container name again (docker's `Names`).
    pub names: String,
    /// The image reference.
    pub image: String,
    /// The quoted, shortened command.
    pub command: String,
    /// The project.
    pub project: String,
    /// The service.
    pub service: String,
    /// `2026-11-22 17:20:46 +0000 UTC`.
    pub created_at: String,
    /// `5 minutes ago`.
    pub running_for: String,
    /// `running`, `exited`, …
    pub state: String,
    /// `Up 5 seconds (healthy)`.
    pub status: String,
    /// `healthy`, `unhealthy`, `starting` or empty.
    pub health: String,
    /// The last exit code.
    pub exit_code: i32,
    /// Published ports.
    pub publishers: Vec<Publisher>,
    /// `127.0.0.1:8080->80/tcp`.
    pub ports: String,
    /// `k=v,k=v`.
    pub labels: String,
    /// Named volumes mounted.
    pub local_volumes: String,
    /// Mount sources.
    pub mounts: String,
    /// Network names.
    pub networks: String,
    /// Writable layer size (not measured: docker compose prints `0B` too without `--size`).
    pub size: String,
}

/// A container as `ps` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// What berth decided.
    pub record: &'a ContainerRecord,
    /// What the supervisor observed.
    pub status: &'a Status,
}

impl Row<'_> {
    /// The `COMMAND` cell: quoted, cut to 20 characters with `…` as docker does.
    pub fn command(&self) -> String {
        let full = self.record.command.join(" ");
        let cut: String = if full.chars().count() > 20 {
            let mut s: String = full.chars().take(19).collect();
            s.push('…');
            s
        } else {
            full
        };
        format!("\"{cut}\"")
    }

    /// The `PORTS` cell: `127.0.0.1:8080->80/tcp, …`.
    pub fn ports(&self) -> String {
        self.record
            .ports
            .iter()
            .map(port_text)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `5 minutes ago`.
    pub fn running_for(&self, now: SystemTime) -> String {
        let created = humantime::parse_rfc3339_weak(&self.record.created).unwrap_or(now);
        format!(
            "{} ago",
            human_duration(now.duration_since(created).unwrap_or_default())
        )
    }

    /// The JSON object of `ps --format json`.
    pub fn json(&self, now: SystemTime) -> PsJson {
        let r = self.record;
        let s = self.status;
        PsJson {
            id: r.id.clone(),
            name: r.name.clone(),
            names: r.name.clone(),
            image: r.image.clone(),
            command: self.command(),
            project: r.project.clone(),
            service: r.service.clone(),
            created_at: go_time(&r.created),
            running_for: self.running_for(now),
            state: s.state.as_str().to_string(),
            status: s.describe(now),
            health: match s.health {
                Some(Health::Healthy) => "healthy",
                Some(Health::Unhealthy) => "unhealthy",
                Some(Health::Starting) => "starting",
                None => "",
            }
            .to_string(),
            exit_code: s.exit_code.unwrap_or(0),
            publishers: r
                .ports
                .iter()
                .map(|p| Publisher {
                    url: p.host_ip.clone(),
                    target_port: p.container_port,
                    published_port: p.host_port,
                    protocol: p.protocol.clone(),
                })
                .collect(),
            ports: self.ports(),
            labels: r
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            local_volumes: "0".into(),
            mounts: String::new(),
            networks: r
                .networks
                .iter()
                .map(|n| n.network.as_str())
                .collect::<Vec<_>>()
                .join(","),
            size: "0B".into(),
        }
    }
}

fn port_text(p: &PortRecord) -> String {
    // Exposed, not published: docker shows the port inside alone.
    if p.host_port == 0 {
        return format!("{}/{}", p.container_port, p.protocol);
    }
    let host = if p.host_ip.contains(':') {
        format!("[{}]", p.host_ip)
    } else {
        p.host_ip.clone()
    };
    format!(
        "{host}:{}->{}/{}",
        p.host_port, p.container_port, p.protocol
    )
}

/// Go's `time.Time.String()` for a UTC RFC 3339 stamp: `2026-11-22 17:20:46 +0000 UTC`.
fn go_time(rfc3339: &str) -> String {
    match humantime::parse_rfc3339_weak(rfc3339) {
        Ok(t) => {
            let s = humantime::format_rfc3339_seconds(t).to_string();
            format!("{} {} +0000 UTC", &s[..10], &s[11..19])
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// `ps`'s table: `NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS`.
pub fn table(rows: &[Row<'_>], now: SystemTime) -> String {
    let header = [
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.record.name.clone(),
                r.record.image.clone(),
                r.command(),
                r.record.service.clone(),
                r.running_for(now),
                r.status.describe(now),
                r.ports(),
            ]
        })
        .collect();
    render_table(&header, &cells)
}

/// Lays out columns the way docker's tabwriter does: three spaces between columns.
pub fn render_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            l.push_str(c);
            if i + 1 < N {
                let pad = widths[i] - c.chars().count() + 3;
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{ContainerState, NetworkRecord};
    use super::*;
    use std::time::Duration;

    fn record() -> ContainerRecord {
        ContainerRecord {
            id: "ab".repeat(32),
            name: "p-web-1".into(),
            project: "p".into(),
            service: "web".into(),
            number: 1,
            oneoff: false,
            image: "localhost/busybox:stable".into(),
            image_id: "sha256:00".into(),
            command: vec![
                "httpd".into(),
                "-f".into(),
                "-v".into(),
                "-p".into(),
                "8080".into(),
            ],
            created: "2026-11-22T17:00:00Z".into(),
            labels: [("com.docker.compose.project".to_string(), "p".to_string())]
                .into_iter()
                .collect(),
            networks: vec![NetworkRecord {
                network: "p_default".into(),
                ifname: "eth0".into(),
                ipv4: Some("10.89.0.2/24".into()),
                ipv6: None,
                mac: None,
                aliases: vec!["web".into()],
            }],
            ports: vec![PortRecord {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 8080,
                protocol: "tcp".into(),
            }],
        }
    }

    #[test]
    fn json_has_docker_compose_keys_and_values() {
        let rec = record();
        let st = Status {
            state: ContainerState::Running,
            started_at: Some(
                humantime::parse_rfc3339("2026-11-22T17:00:00Z")
                    .unwrap()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs_f64(),
            ),
            ..Status::default()
        };
        let now = humantime::parse_rfc3339("2026-11-22T17:05:00Z").unwrap();
        let v = serde_json::to_value(
            Row {
                record: &rec,
                status: &st,
            }
            .json(now),
        )
        .unwrap();
        assert_eq!(v["Name"], "p-web-1");
        assert_eq!(v["State"], "running");
        assert_eq!(v["Status"], "Up 5 minutes");
        assert_eq!(v["RunningFor"], "5 minutes ago");
        assert_eq!(v["CreatedAt"], "2026-11-22 17:00:00 +0000 UTC");
        assert_eq!(v["Command"], "\"httpd -f -v -p 8080\"");
        assert_eq!(v["Ports"], "127.0.0.1:8080->8080/tcp");
        assert_eq!(v["Publishers"][0]["PublishedPort"], 8080);
        assert_eq!(v["Networks"], "p_default");
        assert!(v.get("ExitCode").is_some() && v.get("Health").is_some());
    }

    #[test]
    fn long_commands_are_cut_like_docker() {
        let mut rec = record();
        rec.command = vec![
            "sh".into(),
            "-c".into(),
            "while true; do sleep 1; done".into(),
        ];
        let st = Status::default();
        assert_eq!(
            Row {
                record: &rec,
                status: &st
            }
            .command(),
            "\"sh -c while true; d…\""
        );
    }

    #[test]
    fn table_aligns_columns() {
        let rec = record();
        let st = Status::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let t = table(
            &[Row {
                record: &rec,
                status: &st,
            }],
            now,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NAME      IMAGE"), "{t}");
        assert_eq!(lines[0].find("IMAGE"), lines[1].find("localhost/"));
    }
}
