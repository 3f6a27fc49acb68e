//! `alpha viz`: the project as docker compose's graphviz graph (its
//! `pkg/compose/viz_test.go` checks, on a compose file).

mod common;

use common::World;

#[test]
fn alpha_viz_prints_the_dependency_graph() {
    let w = World::new();
    let p = w.project(
        "viztest",
        r#"
services:
  service1:
    image: image-for-service1
    ports: ["80:80", "53:533/udp"]
    networks: [internal]
  service3:
    image: some-image
    depends_on: [service1]
  with-host-ip:
    image: user/image-name
    depends_on: [service3]
    ports: ["127.0.0.1:8888:8080"]
networks:
  internal: {}
"#,
    );
    let out = w.ok(&p, &["alpha", "viz"]);
    assert!(
        out.starts_with("digraph \"viztest\" {\n\tlayout=dot;\n"),
        "{out}"
    );
    assert!(out.contains(
        "\t\"service1\" [style=\"filled\" label=<<font point-size=\"15\">service1</font>>];\n"
    ));
    assert!(out.contains("\t\"service3\" -> \"service1\";\n"), "{out}");
    assert!(
        out.contains("\t\"with-host-ip\" -> \"service3\";\n"),
        "{out}"
    );
    assert!(out.ends_with("}\n"));
    let out = w.ok(
        &p,
        &[
            "alpha",
            "viz",
            "--ports",
            "--networks",
            "--image",
            "--spaces",
            "--indentation-size=2",
        ],
    );
    assert!(out.contains("  layout=dot;\n"), "{out}");
    assert!(
        out.contains("<b>Networks:</b><br/>internal</font>"),
        "{out}"
    );
    assert!(out.contains("<br/>80:80 (tcp, ingress)"), "{out}");
    assert!(out.contains("<br/>53:533 (udp, ingress)"), "{out}");
    assert!(
        out.contains("<br/>127.0.0.1:8888:8080 (tcp, ingress)"),
        "{out}"
    );
    assert!(
        out.contains("<b>Image:</b><br/>user/image-name</font>"),
        "{out}"
    );
    // Nothing ran.
    w.assert_clean();
}
