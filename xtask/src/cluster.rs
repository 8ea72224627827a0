//! Keycloak as production runs it: `kc.sh build --db=postgres` once, then `kc.sh start` of
//! N nodes on a private PostgreSQL, clustered through the database (Keycloak's default
//! `jdbc-ping` cache stack), behind Debian's nginx terminating TLS with the test CA. The
//! nodes know the proxy's URL as their hostname (`--hostname`, `--proxy-headers
//! xforwarded`), so tokens and discovery name the public URL, never a node's.
//!
//! Everything binds to 127.0.0.1 (HTTP, management, the cache cluster's own port) and lives
//! under `target/cluster/`: the database, a copy of the distribution built for PostgreSQL
//! (a `build` changes the installation, and the dev servers keep theirs), the nodes' logs,
//! the nginx configuration, and `node-N.sh` scripts that start a node again exactly as it was
//! started (the crash test restarts the node it killed). PostgreSQL and nginx come from
//! Debian's packages, installed through `apt-get` when missing, as SoftHSM2 is. Running as
//! root (as CI does), PostgreSQL runs as the `postgres` user the package creates, since it
//! refuses root. `stop` ends exactly what `start` recorded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::keycloak::{self, LOCAL_ADMIN_PASSWORD, LOCAL_ADMIN_USER};
use crate::util::root;

/// The proxy's port: `https://localhost:8643` is the cluster's public URL. Clear of the dev
/// servers the suite starts beside it (8080 and 8180, HTTPS on 8443 and 8543).
pub const PROXY_PORT: u16 = 8643;
/// Node N (from 1) serves HTTP on `NODE_PORT + N`, management on `+1000`, and its cache
/// cluster (JGroups) on `CLUSTER_PORT + N`.
const NODE_PORT: u16 = 8590;
const CLUSTER_PORT: u16 = 7800;
const MANAGEMENT_OFFSET: u16 = 1000;
/// PostgreSQL's port on loopback.
const PG_PORT: u16 = 15432;
/// How long the whole start may take (the build, PostgreSQL, every node).
const START_TIMEOUT: Duration = Duration::from_secs(420);

/// What `start` started, recorded in `target/cluster/state.json` for `stop` and `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cluster {
    pub version: String,
    /// `https://localhost:8643`.
    pub proxy_url: String,
    pub nodes: Vec<Node>,
    pub nginx_pid: u32,
    pub pg_port: u16,
    pub pg_dir: PathBuf,
}

/// One Keycloak node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    /// Its own HTTP URL, `http://127.0.0.1:859N` (behind the proxy; the tests reach a node
    /// directly only to prove what the cluster shares).
    pub url: String,
    /// The process group of `kc.sh` and its java.
    pub pid: u32,
    pub management_port: u16,
    pub log: PathBuf,
    /// Starts the node again as it was started (`sh node-N.sh` prints the new pid).
    pub script: PathBuf,
}

fn dir() -> PathBuf {
    root().join("target").join("cluster")
}

fn state_path() -> PathBuf {
    dir().join("state.json")
}

/// The recorded cluster, if any.
pub fn recorded() -> Option<Cluster> {
    let text = fs::read_to_string(state_path()).ok()?;
    serde_json::from_str(&text).ok()
}

/// `start --prod [--nodes N]`: the cluster, started here or reused when it runs already.
/// Returns it and whether this call started it.
pub fn ensure_running(version: &str, nodes: usize) -> Result<(Cluster, bool)> {
    if let Some(c) = recorded() {
        if c.nodes.iter().all(|n| node_alive(current_pid(n)))
            && nginx_alive(c.nginx_pid)
            && c.nodes.len() == nodes
            && c.version == version
        {
            eprintln!(
                "cluster: reusing {} nodes of Keycloak {} behind {}",
                c.nodes.len(),
                c.version,
                c.proxy_url
            );
            return Ok((c, false));
        }
        eprintln!("cluster: the recorded cluster is not whole; stopping what is left of it");
        stop()?;
    }
    let t0 = Instant::now();
    let started = start(version, nodes);
    if started.is_err() {
        // Whatever came up before the failure goes down again.
        let _ = stop();
    }
    let cluster = started?;
    eprintln!(
        "cluster: {} nodes of Keycloak {} ready behind {} after {:.1}s (admin {LOCAL_ADMIN_USER}/{LOCAL_ADMIN_PASSWORD})",
        cluster.nodes.len(),
        cluster.version,
        cluster.proxy_url,
        t0.elapsed().as_secs_f64()
    );
    Ok((cluster, true))
}

fn start(version: &str, nodes: usize) -> Result<Cluster> {
    if !(1..=4).contains(&nodes) {
        bail!("--nodes must be 1 to 4, not {nodes}");
    }
    let nginx = nginx_binary()?;
    let pg_bin = postgres_bin()?;
    let ports = ports(nodes);
    if let Some(busy) = ports.iter().find(|p| keycloak::port_in_use(**p)) {
        bail!(
            "127.0.0.1:{busy} is in use by something this xtask did not start (the cluster needs ports {ports:?})"
        );
    }
    let dir = dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let material = keycloak::tls_material()?;

    let pg_dir = dir.join("postgres");
    let mut cluster = Cluster {
        version: version.to_owned(),
        proxy_url: format!("https://localhost:{PROXY_PORT}"),
        nodes: Vec::new(),
        nginx_pid: 0,
        pg_port: PG_PORT,
        pg_dir: pg_dir.clone(),
    };
    // Recorded before the database starts: a failure from here on is cleaned up by `stop`,
    // which ends PostgreSQL by its postmaster.pid.
    write_state(&cluster)?;
    start_postgres(&pg_bin, &pg_dir)?;

    let home = built_distribution(version)?;
    let jdk = keycloak::find_jdk()?;
    for n in 1..=nodes as u16 {
        let node = start_node(&home, &jdk.path, n, &material)?;
        cluster.nodes.push(node);
        write_state(&cluster)?;
    }
    cluster.nginx_pid = start_nginx(&nginx, &cluster, &material)?;
    write_state(&cluster)?;

    let deadline = Instant::now() + START_TIMEOUT;
    for node in &cluster.nodes {
        wait_node_ready(node, deadline)?;
    }
    wait_cluster_formed(&cluster, deadline)?;
    wait_proxy(&cluster, &material.ca_cert(), deadline)?;
    Ok(cluster)
}

/// Every port a cluster of `nodes` listens on (all on 127.0.0.1).
fn ports(nodes: usize) -> Vec<u16> {
    let mut ports = vec![PROXY_PORT, PG_PORT];
    for n in 1..=nodes as u16 {
        ports.extend([
            NODE_PORT + n,
            NODE_PORT + n + 10,
            NODE_PORT + n + MANAGEMENT_OFFSET,
            CLUSTER_PORT + n,
        ]);
    }
    ports
}

/// `stop`: the proxy, the nodes, the database; the state file last.
pub fn stop() -> Result<()> {
    let Some(c) = recorded() else {
        eprintln!("cluster: not running (no {})", state_path().display());
        return Ok(());
    };
    if c.nginx_pid != 0 && nginx_alive(c.nginx_pid) {
        eprintln!("cluster: stopping nginx (process group {})", c.nginx_pid);
        end_group(c.nginx_pid)?;
    }
    for node in &c.nodes {
        let pid = current_pid(node);
        if node_alive(pid) {
            eprintln!("cluster: stopping node {} (process group {pid})", node.url);
            end_group(pid)?;
        }
    }
    if c.pg_dir.join("postmaster.pid").exists() {
        eprintln!("cluster: stopping PostgreSQL ({})", c.pg_dir.display());
        let pg_bin = postgres_bin()?;
        let mut cmd = as_postgres_user(&pg_bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&c.pg_dir)
            .args(["-m", "fast", "-w", "stop"]);
        run_quiet(&mut cmd, "pg_ctl stop")?;
    }
    let _ = fs::remove_file(state_path());
    eprintln!("cluster: stopped");
    Ok(())
}

/// `status`: each part, with its URL.
pub fn status() {
    let Some(c) = recorded() else {
        println!("cluster: not running");
        return;
    };
    let state = |up: bool| if up { "running" } else { "gone" };
    println!("cluster: Keycloak {} behind {}", c.version, c.proxy_url);
    println!(
        "proxy: nginx, {} (pid {})",
        state(nginx_alive(c.nginx_pid)),
        c.nginx_pid
    );
    for node in &c.nodes {
        println!(
            "node: {} {} (pid {}, health https://localhost:{}/health/ready, log {})",
            node.url,
            state(node_alive(current_pid(node))),
            current_pid(node),
            node.management_port,
            node.log.display()
        );
    }
    let db = if c.pg_dir.join("postmaster.pid").exists() {
        "running"
    } else {
        "stopped"
    };
    println!(
        "database: PostgreSQL on 127.0.0.1:{}, {db} ({})",
        c.pg_port,
        c.pg_dir.display()
    );
}

/// Whether process group `pgid` still runs *what this xtask started*: a process of that
/// group whose command line names `what` (a recorded number alone could be anyone's group by
/// now: the state file outlives a reboot).
fn ours(pgid: u32, what: &str) -> bool {
    if pgid == 0 {
        return false;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            let in_group = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let mut rest = stat
                    .rsplit_once(')')
                    .map(|(_, r)| r.split_whitespace())
                    .into_iter()
                    .flatten();
                let state = rest.next();
                let pgrp = rest.nth(1).and_then(|p| p.parse::<u32>().ok());
                !matches!(state, Some("Z" | "X")) && pgrp == Some(pgid)
            });
            in_group
                && fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(what))
        })
}

/// The cluster's nginx: its command line names our configuration.
fn nginx_alive(pgid: u32) -> bool {
    ours(pgid, "cluster/nginx/nginx.conf")
}

/// A node: its kc.sh or java runs from the cluster's copy of the distribution.
fn node_alive(pgid: u32) -> bool {
    ours(pgid, "target/cluster/keycloak-")
}

fn write_state(c: &Cluster) -> Result<()> {
    fs::write(state_path(), serde_json::to_vec_pretty(c)?)
        .with_context(|| format!("cannot write {}", state_path().display()))
}

/// TERM to a process group, then KILL after 20 s.
fn end_group(pgid: u32) -> Result<()> {
    keycloak::signal_group(pgid, "TERM")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    // Checked as ours by the caller: now any process left in the group counts.
    while ours(pgid, "") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    if ours(pgid, "") {
        keycloak::signal_group(pgid, "KILL")?;
    }
    Ok(())
}

// ------------------------------------------------------------------------- PostgreSQL

/// The directory of `initdb` and `pg_ctl`: Debian keeps them under
/// `/usr/lib/postgresql/<major>/bin`, off `PATH`.
fn postgres_bin() -> Result<PathBuf> {
    let find = || {
        let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
            .collect();
        found.sort();
        found.pop()
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    crate::packages::install(&["postgresql"], "the production-mode cluster")?;
    find().context("postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found")
}

/// `program` as the `postgres` user when we are root (PostgreSQL refuses to run as root),
/// else as ourselves.
fn as_postgres_user(program: &Path) -> Command {
    if crate::packages::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A fresh database cluster in `pg_dir` (trust authentication: it listens on loopback
/// only and holds nothing but this test's Keycloak), started, with database `keycloak`.
fn start_postgres(bin: &Path, pg_dir: &Path) -> Result<()> {
    if pg_dir.exists() {
        fs::remove_dir_all(pg_dir)
            .with_context(|| format!("cannot remove {}", pg_dir.display()))?;
    }
    fs::create_dir_all(pg_dir)?;
    if crate::packages::is_root() {
        // The data directory and its parents must be reachable by the postgres user.
        run_quiet(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(pg_dir),
            "chown",
        )?;
        let mut p = pg_dir.parent();
        while let Some(d) = p {
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(meta) = fs::metadata(d) {
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 {
                    fs::set_permissions(d, fs::Permissions::from_mode(mode | 0o001))?;
                }
            }
            p = d.parent();
        }
    }
    eprintln!(
        "cluster: PostgreSQL in {} on 127.0.0.1:{PG_PORT}",
        pg_dir.display()
    );
    let mut init = as_postgres_user(&bin.join("initdb"));
    init.arg("-D")
        .arg(pg_dir)
        .args(["-U", "keycloak", "--auth=trust", "-E", "UTF8"]);
    run_quiet(&mut init, "initdb")?;
    let mut start = as_postgres_user(&bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(pg_dir)
        .arg("-l")
        .arg(pg_dir.join("server.log"))
        .arg("-o")
        .arg(format!(
            "-p {PG_PORT} -k {} -c listen_addresses=127.0.0.1",
            pg_dir.display()
        ))
        .args(["-w", "start"]);
    run_quiet(&mut start, "pg_ctl start")?;
    let mut create = Command::new(bin.join("createdb"));
    create.args([
        "-h",
        "127.0.0.1",
        "-p",
        &PG_PORT.to_string(),
        "-U",
        "keycloak",
        "keycloak",
    ]);
    run_quiet(&mut create, "createdb keycloak")
}

// --------------------------------------------------------------------------- Keycloak

/// A copy of the distribution, `kc.sh build` for PostgreSQL with health and metrics, once
/// per version (a marker file records the build).
fn built_distribution(version: &str) -> Result<PathBuf> {
    let source = keycloak::install(version)?;
    let home = dir().join(format!("keycloak-{version}"));
    let marker = home.join(".jwtgrant-built-postgres");
    if marker.exists() {
        return Ok(home);
    }
    if home.exists() {
        fs::remove_dir_all(&home)?;
    }
    eprintln!(
        "cluster: copying {} for the production build",
        source.display()
    );
    run_quiet(
        Command::new("cp").arg("-a").arg(&source).arg(&home),
        "cp -a",
    )?;
    let jdk = keycloak::find_jdk()?;
    eprintln!("cluster: kc.sh build --db=postgres --health-enabled=true --metrics-enabled=true");
    let mut build = Command::new(home.join("bin").join("kc.sh"));
    build
        .args([
            "build",
            "--db=postgres",
            "--health-enabled=true",
            "--metrics-enabled=true",
        ])
        .env("JAVA_HOME", &jdk.path)
        .current_dir(&home);
    run_quiet(&mut build, "kc.sh build")?;
    fs::write(&marker, b"")?;
    Ok(home)
}

/// The file a node's script writes its pid into (`node-N.pid`): the node's current
/// process group, also after the crash test restarted it.
fn pid_file(script: &Path) -> PathBuf {
    script.with_extension("pid")
}

/// The node's current process group: its script's pid file, else the recorded one.
fn current_pid(node: &Node) -> u32 {
    fs::read_to_string(pid_file(&node.script))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(node.pid)
}

/// Starts node `n` through its script and returns it (not waited for).
fn start_node(home: &Path, java_home: &Path, n: u16, tls: &crate::tls::Material) -> Result<Node> {
    let port = NODE_PORT + n;
    let management_port = port + MANAGEMENT_OFFSET;
    let log = dir().join(format!("node-{n}.log"));
    let script = dir().join(format!("node-{n}.sh"));
    let q = |p: &Path| format!("'{}'", p.display());
    let text = format!(
        "#!/bin/sh\n\
         # Starts Keycloak cluster node {n} as `cargo xtask keycloak start --prod` did; prints its pid.\n\
         export JAVA_HOME={java}\n\
         export KC_BOOTSTRAP_ADMIN_USERNAME={LOCAL_ADMIN_USER} KC_BOOTSTRAP_ADMIN_PASSWORD={LOCAL_ADMIN_PASSWORD}\n\
         cd {home}\n\
         setsid {kc} start --optimized \\\n  \
           --db-url=jdbc:postgresql://127.0.0.1:{PG_PORT}/keycloak --db-username=keycloak --db-password=unused \\\n  \
           --http-enabled=true --http-host=127.0.0.1 --http-port={port} --http-management-port={management_port} \\\n  \
           --hostname=https://localhost:{PROXY_PORT} --proxy-headers=xforwarded \\\n  \
           --https-port={https} --https-certificate-file={cert} --https-certificate-key-file={key} \\\n  \
           --truststore-paths={ca} \\\n  \
           --cache-embedded-network-bind-address=127.0.0.1 --cache-embedded-network-bind-port={cluster} \\\n  \
           >>{log} 2>&1 </dev/null &\n\
         echo $! > {pid_file}\n\
         echo $!\n",
        java = q(java_home),
        home = q(home),
        kc = q(&home.join("bin").join("kc.sh")),
        https = port + 10,
        cert = q(&tls.server_cert()),
        key = q(&tls.server_key()),
        ca = q(&tls.ca_cert()),
        cluster = CLUSTER_PORT + n,
        log = q(&log),
        pid_file = q(&pid_file(&script)),
    );
    fs::write(&script, text)?;
    let _ = fs::remove_file(&log);
    let out = Command::new("sh")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("{} printed no pid", script.display()))?;
    eprintln!(
        "cluster: node {n} on 127.0.0.1:{port} (pid {pid}, log {})",
        log.display()
    );
    Ok(Node {
        url: format!("http://127.0.0.1:{port}"),
        pid,
        management_port,
        log,
        script,
    })
}

/// Waits until the node answers the master realm's discovery on its own HTTP port (its
/// management interface inherits HTTPS from the main one, so health is not plain HTTP).
fn wait_node_ready(node: &Node, deadline: Instant) -> Result<()> {
    let agent = keycloak::agent();
    while Instant::now() < deadline {
        if keycloak::is_ready(&agent, &node.url) {
            return Ok(());
        }
        if !node_alive(node.pid) {
            bail!(
                "node {} exited while starting; last lines of {}:\n{}",
                node.url,
                node.log.display(),
                keycloak::tail(&node.log, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "node {} not ready in time; last lines of {}:\n{}",
        node.url,
        node.log.display(),
        keycloak::tail(&node.log, 30)
    )
}

/// Waits until every node's log shows a cache cluster view with all of them
/// (`ISPN000094: Received new cluster view ... (N)`).
fn wait_cluster_formed(c: &Cluster, deadline: Instant) -> Result<()> {
    let want = format!("({})", c.nodes.len());
    if c.nodes.len() < 2 {
        return Ok(());
    }
    while Instant::now() < deadline {
        let formed = c.nodes.iter().all(|n| {
            fs::read_to_string(&n.log).is_ok_and(|log| {
                log.lines()
                    .any(|l| l.contains("ISPN000094") && l.contains(&want))
            })
        });
        if formed {
            eprintln!("cluster: the cache cluster has all {} nodes", c.nodes.len());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "the nodes did not form one cache cluster of {} in time (see their logs under {})",
        c.nodes.len(),
        dir().display()
    )
}

// ------------------------------------------------------------------------------ nginx

fn nginx_binary() -> Result<PathBuf> {
    let find = || {
        ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| crate::packages::which("nginx"))
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    crate::packages::install(&["nginx"], "the production-mode cluster's TLS proxy")?;
    find().context("nginx is installed but not found")
}

/// nginx on `127.0.0.1:8643`: TLS with the test CA's `localhost` certificate, the nodes as
/// one upstream, a dead node skipped (`proxy_next_upstream` on connection errors, which
/// nginx retries only before a request was sent: a grant is never sent twice).
fn start_nginx(nginx: &Path, c: &Cluster, tls: &crate::tls::Material) -> Result<u32> {
    let ndir = dir().join("nginx");
    fs::create_dir_all(ndir.join("tmp"))?;
    let servers: String = c
        .nodes
        .iter()
        .map(|n| {
            format!(
                "    server {} max_fails=1 fail_timeout=3s;\n",
                n.url.trim_start_matches("http://")
            )
        })
        .collect();
    let d = ndir.display();
    let conf = format!(
        "worker_processes 1;\n\
         daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n\
           access_log {d}/access.log;\n\
           client_body_temp_path {d}/tmp/body;\n\
           proxy_temp_path {d}/tmp/proxy;\n\
           fastcgi_temp_path {d}/tmp/fastcgi;\n\
           uwsgi_temp_path {d}/tmp/uwsgi;\n\
           scgi_temp_path {d}/tmp/scgi;\n\
           upstream keycloak {{\n{servers}    keepalive 32;\n  }}\n\
           server {{\n\
             listen 127.0.0.1:{PROXY_PORT} ssl;\n\
             server_name localhost;\n\
             ssl_certificate {cert};\n\
             ssl_certificate_key {key};\n\
             location / {{\n\
               proxy_pass http://keycloak;\n\
               proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n\
               proxy_set_header Host $host:$server_port;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_set_header X-Forwarded-Proto https;\n\
               proxy_set_header X-Forwarded-Host $host;\n\
               proxy_set_header X-Forwarded-Port $server_port;\n\
               proxy_next_upstream error timeout http_502 http_503 http_504;\n\
               proxy_connect_timeout 2s;\n\
             }}\n\
           }}\n\
         }}\n",
        cert = tls.server_cert().display(),
        key = tls.server_key().display(),
    );
    let conf_path = ndir.join("nginx.conf");
    fs::write(&conf_path, conf)?;
    let mut test = Command::new(nginx);
    test.arg("-t")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(&ndir);
    run_quiet(&mut test, "nginx -t")?;
    let log = fs::File::create(ndir.join("nginx.out"))?;
    use std::os::unix::process::CommandExt as _;
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(&ndir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start nginx")?;
    eprintln!(
        "cluster: nginx on https://localhost:{PROXY_PORT} (pid {})",
        child.id()
    );
    Ok(child.id())
}

/// Waits until the proxy answers the master realm's discovery with the public issuer.
fn wait_proxy(c: &Cluster, ca: &Path, deadline: Instant) -> Result<()> {
    let pem = fs::read(ca)?;
    let transport = jwtgrant_exchange::Transport::new()
        .ca_bundle_pem(&pem)
        .context("test CA")?
        .timeout(Duration::from_secs(3));
    let url = format!(
        "{}/realms/master/.well-known/openid-configuration",
        c.proxy_url
    );
    let want = format!("\"issuer\":\"{}/realms/master\"", c.proxy_url);
    let parsed = transport.check_url(&url)?;
    let mut last = String::new();
    while Instant::now() < deadline {
        match transport.send(jwtgrant_exchange::Method::Get, &parsed, &[], None) {
            Ok(r) if r.status == 200 && String::from_utf8_lossy(&r.body).contains(&want) => {
                return Ok(());
            }
            Ok(r) => {
                let body: String = String::from_utf8_lossy(&r.body).chars().take(200).collect();
                last = format!("HTTP {}: {body}", r.status);
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "the proxy {url} did not answer with issuer {}/realms/master in time (last: {last})",
        c.proxy_url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask e2e` runs the cluster beside the two dev servers: no port may be theirs
    /// (the proxy once sat on 8543, the 26.5 server's HTTPS port).
    #[test]
    fn the_cluster_needs_no_port_of_the_dev_servers() {
        let mut dev = Vec::new();
        for p in [keycloak::DEFAULT_PORT, keycloak::LEGACY_PORT] {
            dev.extend([
                p,
                keycloak::https_port(p),
                p + keycloak::MANAGEMENT_PORT_OFFSET,
            ]);
        }
        let cluster = ports(4);
        let shared: Vec<u16> = cluster
            .iter()
            .copied()
            .filter(|p| dev.contains(p))
            .collect();
        assert_eq!(
            shared,
            Vec::<u16>::new(),
            "dev {dev:?}, cluster {cluster:?}"
        );
        let mut unique = cluster.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), cluster.len(), "{cluster:?}");
    }
}
