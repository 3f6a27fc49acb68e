//! `alpha viz`: the project's services and their `depends_on` as a graphviz
//! `digraph`, as docker compose prints it (node labels in HTML-like markup,
//! optional networks, ports and image). Services come out in name order where
//! docker compose's map order is random.

use super::model::{Project, ServiceConfig};

/// What `alpha viz` includes.
#[derive(Debug, Clone, Default)]
pub struct VizOptions {
    /// `--networks`.
    pub networks: bool,
    /// `--ports`.
    pub ports: bool,
    /// `--image`.
    pub image: bool,
    /// One level of indentation.
    pub indentation: String,
}

/// The graph of `project`.
pub fn viz(project: &Project, opts: &VizOptions) -> String {
    let ind = &opts.indentation;
    let mut g = format!("digraph \"{}\" {{\n{ind}layout=dot;\n", project.name);
    for svc in project.services.values() {
        g.push_str(&node(project, svc, opts));
    }
    g.push('\n');
    for svc in project.services.values() {
        for dep in svc.depends_on.keys() {
            g.push_str(&format!("{ind}\"{}\" -> \"{dep}\";\n", svc.name));
        }
    }
    g.push_str("}\n");
    g
}

fn node(project: &Project, svc: &ServiceConfig, opts: &VizOptions) -> String {
    let mut n = format!(
        "{}\"{}\" [style=\"filled\" label=<<font point-size=\"15\">{}</font>",
        opts.indentation, svc.name, svc.name
    );
    if opts.networks && !svc.networks.is_empty() {
        n.push_str("<font point-size=\"10\"><br/><br/><b>Networks:</b>");
        // By priority, highest first, then by name (compose-go's NetworksByPriority).
        let mut nets: Vec<(&String, i32)> = svc
            .networks
            .iter()
            .map(|(k, v)| (k, v.as_ref().map_or(0, |c| c.priority)))
            .collect();
        nets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (name, _) in nets {
            n.push_str(&format!("<br/>{name}"));
        }
        n.push_str("</font>");
    }
    if opts.ports && !svc.ports.is_empty() {
        n.push_str("<font point-size=\"10\"><br/><br/><b>Ports:</b>");
        for p in &svc.ports {
            n.push_str("<br/>");
            if !p.host_ip.is_empty() {
                n.push_str(&format!("{}:", p.host_ip));
            }
            n.push_str(&format!(
                "{}:{} ({}, {})",
                p.published, p.target, p.protocol, p.mode
            ));
        }
        n.push_str("</font>");
    }
    if opts.image {
        n.push_str(&format!(
            "<font point-size=\"10\"><br/><br/><b>Image:</b><br/>{}</font>",
            project.image_name(svc)
        ));
    }
    n.push_str(">];\n");
    n
}
