//! `latchkey-loadgen`: the load generator of `scripts/bench-oidc`.
//!
//! A bare HTTP/1.1 client (hyper's connection API, no pool, no redirects): each of
//! `--concurrency` workers owns one keep-alive connection and sends its requests one after
//! the other, so the number of requests in flight is exactly the concurrency. A run stops
//! after `--duration` or `--requests`, whichever comes first (both bounded), after an
//! untimed `--warmup`. It prints requests/s and the latency percentiles (exact: every
//! latency is kept, at most `MAX_SAMPLES`), and with `--watch-pid` the peak resident memory
//! (`VmRSS` from `/proc/<pid>/status`, sampled every 20 ms) of the daemon during the run.
//!
//! Scenarios:
//! - `get URL` — one GET, again and again (discovery, JWKS).
//! - `client-credentials ISSUER` — `POST /token` with `grant_type=client_credentials`
//!   and HTTP Basic client authentication.
//! - `code-exchange ISSUER` — the authorization-code exchange alone: codes are minted
//!   (untimed, `--batch` at a time, through `/authorize` with a session cookie), then all
//!   workers exchange theirs at once with PKCE S256 (timed; the rate is over the exchange
//!   phases only) — what an RP's callback costs the provider.
//! - `code-flow ISSUER` — the whole code flow as an RP and a signed-in browser drive it:
//!   `GET /authorize` (session cookie, PKCE, nonce, state) → the redirect with the code →
//!   `POST /token`. One iteration = two requests; the figures are per iteration, and the
//!   two steps' latencies are printed too.
//!
//! With `--also-at ADDR` (repeatable), further replicas of the same issuer take their share:
//! worker `i` of the fixed scenarios talks to replica `i mod n`, and in the code scenarios each
//! code is issued at one replica and exchanged at the next.
//!
//! The session cookie for the code scenarios comes from `--login-code`: the loadgen signs
//! in at `/lc` like a browser (CSRF cookie and form token) before the run.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rand::RngCore as _;
use reqwest::Url;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpStream;

/// Latencies kept per run; a run that would exceed it stops early (and says so).
const MAX_SAMPLES: usize = 20_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey-loadgen",
    about = "HTTP load generator for the OIDC benchmark"
)]
struct Args {
    /// Requests in flight (one keep-alive connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Timed run length, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many timed requests (iterations for `code-flow`).
    #[arg(long, default_value_t = 5_000_000)]
    requests: u64,
    /// Untimed warm-up, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Sample this process's VmRSS during the run and report the peak.
    #[arg(long)]
    watch_pid: Option<u32>,
    /// A label for the output line.
    #[arg(long)]
    name: Option<String>,
    /// Also print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Another replica serving the same issuer, as the address to connect to (the `Host`
    /// header stays the issuer's); repeatable. Workers spread over every replica, and in the
    /// code scenarios each code is exchanged at another replica than the one that issued it,
    /// as behind a round-robin load balancer.
    #[arg(long = "also-at", value_name = "ADDR")]
    also_at: Vec<SocketAddr>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Clone, Subcommand)]
enum Scenario {
    /// GET one URL.
    Get { url: String },
    /// POST the token endpoint with grant_type=client_credentials.
    ClientCredentials {
        issuer: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        client_secret: String,
        #[arg(long)]
        scope: Option<String>,
    },
    /// Mint codes through /authorize (untimed), exchange them at /token (timed).
    CodeExchange {
        issuer: String,
        #[command(flatten)]
        code: CodeArgs,
        /// Codes minted (by all workers together) before each timed exchange phase.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
    },
    /// /authorize → redirect → /token, as an RP and a signed-in browser do.
    CodeFlow {
        issuer: String,
        #[command(flatten)]
        code: CodeArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct CodeArgs {
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
    #[arg(long)]
    redirect_uri: String,
    /// A login code of the user whose browser session authorizes (see `latchkey login-code create`).
    #[arg(long)]
    login_code: String,
    #[arg(long, default_value = "openid profile email")]
    scope: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

/// One HTTP request, ready to be sent many times.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// An HTTP/1.1 connection to the daemon; reconnects after an error.
struct Conn {
    addr: SocketAddr,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// What came back: status, the headers a scenario needs, the body.
struct Resp {
    status: u16,
    location: Option<String>,
    body: Bytes,
}

impl Conn {
    fn new(target: &Target) -> Conn {
        Conn {
            addr: target.addr,
            host: target.host.clone(),
            sender: None,
        }
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| anyhow!("no connection"))
    }

    async fn send(&mut self, req: &Req) -> Result<Resp> {
        let host = self.host.clone();
        let result = async {
            let sender = self.sender().await?;
            sender.ready().await?;
            let mut builder = Request::builder()
                .method(req.method.clone())
                .uri(req.path.as_str())
                .header("host", host);
            for (k, v) in &req.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let res = sender
                .send_request(builder.body(Full::new(req.body.clone()))?)
                .await?;
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = res.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Resp {
                status,
                location,
                body,
            })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

/// Where the daemon listens and what `Host` to send.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
}

fn target_of(url: &Url) -> Result<Target> {
    let host = url.host_str().ok_or_else(|| anyhow!("{url} has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    // `localhost` may resolve to ::1 first; the daemon listens on 127.0.0.1.
    let connect_host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addr = (connect_host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow!("{host} does not resolve"))?;
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    Ok(Target {
        addr,
        host: authority,
    })
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Timed results of one worker.
#[derive(Debug, Default)]
struct Samples {
    /// Latency of each timed unit, in microseconds.
    micros: Vec<u32>,
    /// For `code-flow`: the latency of each step.
    authorize_micros: Vec<u32>,
    token_micros: Vec<u32>,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    first_error: Option<String>,
}

impl Samples {
    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// Shared run control: stop flag, timed-request budget.
#[derive(Debug)]
struct Control {
    stop: AtomicBool,
    timing: AtomicBool,
    budget: AtomicU64,
}

impl Control {
    /// Takes one unit of the budget while timing; `false` when the run is over.
    fn take(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if !self.timing.load(Ordering::Relaxed) {
            return true;
        }
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

async fn run(args: Args) -> Result<()> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let name = args.name.clone().unwrap_or_else(|| match &args.scenario {
        Scenario::Get { url } => format!("GET {url}"),
        Scenario::ClientCredentials { .. } => "client_credentials".to_owned(),
        Scenario::CodeExchange { .. } => "code exchange".to_owned(),
        Scenario::CodeFlow { .. } => "code flow".to_owned(),
    });
    let control = Arc::new(Control {
        stop: AtomicBool::new(false),
        timing: AtomicBool::new(false),
        budget: AtomicU64::new(args.requests),
    });

    let work = Arc::new(prepare(&args.scenario, args.concurrency).await?);

    let rss_peak = Arc::new(AtomicU64::new(0));
    let watcher = args.watch_pid.map(|pid| {
        let peak = rss_peak.clone();
        let control = control.clone();
        tokio::spawn(async move {
            while !control.stop.load(Ordering::Relaxed) {
                if control.timing.load(Ordering::Relaxed)
                    && let Some(kb) = vm_rss_kb(pid)
                {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });

    let mut workers = Vec::with_capacity(args.concurrency);
    for index in 0..args.concurrency {
        let control = control.clone();
        let work = work.clone();
        let also = args.also_at.clone();
        workers.push(tokio::spawn(async move {
            worker(&work, &control, index, &also).await
        }));
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup.max(0.0))).await;
    let started = Instant::now();
    control.timing.store(true, Ordering::SeqCst);
    let deadline = started + Duration::from_secs_f64(args.duration.max(0.01));
    while Instant::now() < deadline && control.budget.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    control.stop.store(true, Ordering::SeqCst);
    let mut all = Samples::default();
    for w in workers {
        let s = w.await??;
        all.micros.extend(s.micros);
        all.authorize_micros.extend(s.authorize_micros);
        all.token_micros.extend(s.token_micros);
        all.errors += s.errors;
        for (k, v) in s.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
        if all.first_error.is_none() {
            all.first_error = s.first_error;
        }
    }
    // Workers may finish an in-flight request after the deadline; count the real elapsed time.
    let mut elapsed = started.elapsed().as_secs_f64();
    if let Work::Code {
        phases: Some(p), ..
    } = work.as_ref()
    {
        // code-exchange: the time of the timed exchange phases only.
        elapsed = p.nanos.load(Ordering::Relaxed) as f64 / 1e9;
    }
    if let Some(w) = watcher {
        let _ = w.await;
    }
    let rss = args.watch_pid.map(|_| rss_peak.load(Ordering::Relaxed));
    report(&name, &args, &mut all, elapsed, rss);
    Ok(())
}

/// What the workers send, with anything fetched beforehand (discovery, session).
#[derive(Debug)]
enum Work {
    Fixed {
        target: Target,
        req: Req,
    },
    Code {
        target: Target,
        flow: CodeFlow,
        batch: Option<usize>,
        phases: Option<Arc<Phases>>,
    },
}

/// The lock-step of `code-exchange`: all workers mint, then all exchange (timed).
#[derive(Debug)]
struct Phases {
    barrier: tokio::sync::Barrier,
    started: tokio::sync::Mutex<Option<Instant>>,
    /// Total time of the exchange phases.
    nanos: AtomicU64,
    over: AtomicBool,
}

#[derive(Debug)]
struct CodeFlow {
    authorize_path: String,
    token_path: String,
    client_id: String,
    basic: String,
    redirect_uri: String,
    scope: String,
    cookie: String,
}

async fn prepare(scenario: &Scenario, concurrency: usize) -> Result<Work> {
    match scenario {
        Scenario::Get { url } => {
            let url = Url::parse(url)?;
            Ok(Work::Fixed {
                target: target_of(&url)?,
                req: Req {
                    method: Method::GET,
                    path: path_and_query(&url),
                    headers: vec![("accept".into(), "application/json".into())],
                    body: Bytes::new(),
                },
            })
        }
        Scenario::ClientCredentials {
            issuer,
            client_id,
            client_secret,
            scope,
        } => {
            let endpoints = discover(issuer).await?;
            let token = Url::parse(&endpoints.token)?;
            let mut body = "grant_type=client_credentials".to_owned();
            if let Some(scope) = scope {
                body.push_str("&scope=");
                body.push_str(&form_encode(scope));
            }
            Ok(Work::Fixed {
                target: target_of(&token)?,
                req: Req {
                    method: Method::POST,
                    path: path_and_query(&token),
                    headers: vec![
                        ("authorization".into(), basic(client_id, client_secret)),
                        (
                            "content-type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ),
                    ],
                    body: Bytes::from(body),
                },
            })
        }
        Scenario::CodeExchange {
            issuer,
            code,
            batch,
        } => {
            let (target, flow) = prepare_code(issuer, code).await?;
            Ok(Work::Code {
                target,
                flow,
                batch: Some((*batch / concurrency).max(1)),
                phases: Some(Arc::new(Phases {
                    barrier: tokio::sync::Barrier::new(concurrency),
                    started: tokio::sync::Mutex::new(None),
                    nanos: AtomicU64::new(0),
                    over: AtomicBool::new(false),
                })),
            })
        }
        Scenario::CodeFlow { issuer, code } => {
            let (target, flow) = prepare_code(issuer, code).await?;
            Ok(Work::Code {
                target,
                flow,
                batch: None,
                phases: None,
            })
        }
    }
}

struct Endpoints {
    authorization: String,
    token: String,
}

async fn discover(issuer: &str) -> Result<Endpoints> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: serde_json::Value = reqwest::get(&url)
        .await?
        .error_for_status()
        .with_context(|| format!("GET {url}"))?
        .json()
        .await?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("discovery has no {name}"))
    };
    Ok(Endpoints {
        authorization: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
    })
}

async fn prepare_code(issuer: &str, args: &CodeArgs) -> Result<(Target, CodeFlow)> {
    let endpoints = discover(issuer).await?;
    let authorize = Url::parse(&endpoints.authorization)?;
    let token = Url::parse(&endpoints.token)?;
    let target = target_of(&token)?;
    if target_of(&authorize)?.addr != target.addr {
        bail!("the authorization and token endpoints are on different hosts");
    }
    let cookie = sign_in(issuer, &args.login_code).await?;
    Ok((
        target,
        CodeFlow {
            authorize_path: authorize.path().to_owned(),
            token_path: path_and_query(&token),
            client_id: args.client_id.clone(),
            basic: basic(&args.client_id, &args.client_secret),
            redirect_uri: args.redirect_uri.clone(),
            scope: args.scope.clone(),
            cookie,
        },
    ))
}

/// Signs in with a login code at `/lc` like a browser; returns the `Cookie` header value.
async fn sign_in(issuer: &str, code: &str) -> Result<String> {
    let base = issuer.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(format!("{base}/lc"))
        .send()
        .await?
        .text()
        .await?;
    let marker = r#"<meta name="csrf-token" content=""#;
    let csrf = page
        .split_once(marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .ok_or_else(|| anyhow!("/lc has no CSRF token"))?;
    let res = client
        .post(format!("{base}/lc"))
        .form(&[("_csrf", csrf.as_str()), ("code", code)])
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("signing in with the login code failed: {}", res.status());
    }
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("latchkey_session="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow!("no session cookie after signing in"))?;
    Ok(session.to_owned())
}

fn basic(id: &str, secret: &str) -> String {
    // RFC 6749 §2.3.1: form-encode both before Basic.
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// application/x-www-form-urlencoded encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else if byte == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A minted code and the PKCE verifier that goes with it.
struct Minted {
    code: String,
    verifier: String,
}

impl CodeFlow {
    fn authorize_req(&self) -> (Req, String, String) {
        let verifier = random_b64(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_b64(12);
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            form_encode(&self.client_id),
            form_encode(&self.redirect_uri),
            form_encode(&self.scope),
            state,
            random_b64(12),
            challenge,
        );
        (
            Req {
                method: Method::GET,
                path: format!("{}?{query}", self.authorize_path),
                headers: vec![("cookie".into(), self.cookie.clone())],
                body: Bytes::new(),
            },
            verifier,
            state,
        )
    }

    fn token_req(&self, minted: &Minted) -> Req {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
            form_encode(&minted.code),
            form_encode(&self.redirect_uri),
            minted.verifier,
        );
        Req {
            method: Method::POST,
            path: self.token_path.clone(),
            headers: vec![
                ("authorization".into(), self.basic.clone()),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            body: Bytes::from(body),
        }
    }

    /// `/authorize` with the session: the code from the redirect, or why not.
    async fn mint(&self, conn: &mut Conn) -> Result<Minted, String> {
        let (req, verifier, state) = self.authorize_req();
        let res = conn.send(&req).await.map_err(|e| e.to_string())?;
        let location = res
            .location
            .ok_or_else(|| format!("/authorize answered {} without a redirect", res.status))?;
        let url = Url::parse(&location).map_err(|e| format!("{location}: {e}"))?;
        let mut code = None;
        let mut got_state = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "code" => code = Some(v.into_owned()),
                "state" => got_state = Some(v.into_owned()),
                _ => {}
            }
        }
        if got_state.as_deref() != Some(state.as_str()) {
            return Err(format!("state mismatch in {location}"));
        }
        let code = code.ok_or_else(|| format!("no code in {location}"))?;
        Ok(Minted { code, verifier })
    }
}

/// A worker's connections, one per replica.
struct Replicas {
    conns: Vec<Conn>,
}

impl Replicas {
    fn new(target: &Target, also: &[SocketAddr]) -> Replicas {
        let mut conns = vec![Conn::new(target)];
        conns.extend(also.iter().map(|addr| Conn {
            addr: *addr,
            host: target.host.clone(),
            sender: None,
        }));
        Replicas { conns }
    }

    /// The connection to replica `i` (counting round).
    fn at(&mut self, i: usize) -> Result<&mut Conn> {
        let n = self.conns.len();
        self.conns
            .get_mut(i % n)
            .ok_or_else(|| anyhow!("no connection"))
    }
}

async fn worker(
    work: &Work,
    control: &Control,
    index: usize,
    also: &[SocketAddr],
) -> Result<Samples> {
    let mut samples = Samples::default();
    let phases = match work {
        Work::Code { phases, .. } => phases.clone(),
        Work::Fixed { .. } => None,
    };
    match work {
        Work::Fixed { target, req } => {
            let mut replicas = Replicas::new(target, also);
            let conn = replicas.at(index)?;
            while control.take() {
                let timed = control.timing.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let res = conn.send(req).await;
                let dt = t0.elapsed();
                if !timed {
                    continue;
                }
                record(&mut samples, res, dt, 200);
                if samples.micros.len() >= MAX_SAMPLES {
                    break;
                }
            }
        }
        Work::Code {
            target,
            flow,
            batch: None,
            ..
        } => {
            let mut replicas = Replicas::new(target, also);
            // Issued at replica `turn`, exchanged at the next one.
            let mut turn = index;
            while control.take() {
                let timed = control.timing.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let minted = flow.mint(replicas.at(turn)?).await;
                let t1 = Instant::now();
                let minted = match minted {
                    Ok(m) => m,
                    Err(e) => {
                        if timed {
                            samples.error(e);
                        }
                        continue;
                    }
                };
                let res = replicas.at(turn + 1)?.send(&flow.token_req(&minted)).await;
                turn += 1;
                let t2 = Instant::now();
                if !timed {
                    continue;
                }
                samples.authorize_micros.push(micros(t1 - t0));
                samples.token_micros.push(micros(t2 - t1));
                record(&mut samples, res, t2 - t0, 200);
                if samples.micros.len() >= MAX_SAMPLES {
                    break;
                }
            }
        }
        Work::Code {
            target,
            flow,
            batch: Some(batch),
            ..
        } => {
            let phases = phases.as_ref().ok_or_else(|| anyhow!("no phase control"))?;
            let mut replicas = Replicas::new(target, also);
            let mut turn = index;
            loop {
                // Untimed: every worker mints its share of a batch, each code at the replica
                // after the last one's.
                let mut minted = Vec::with_capacity(*batch);
                let mut failed = false;
                while minted.len() < *batch && !failed {
                    turn += 1;
                    match flow.mint(replicas.at(turn)?).await {
                        Ok(m) => minted.push((turn, m)),
                        Err(e) => {
                            samples.error(e);
                            failed = true;
                        }
                    }
                }
                // Timed: all workers exchange their codes at once.
                if phases.barrier.wait().await.is_leader() {
                    *phases.started.lock().await = Some(Instant::now());
                }
                for (issued_at, m) in &minted {
                    let t0 = Instant::now();
                    let res = replicas.at(issued_at + 1)?.send(&flow.token_req(m)).await;
                    record(&mut samples, res, t0.elapsed(), 200);
                }
                if phases.barrier.wait().await.is_leader() {
                    if let Some(t) = phases.started.lock().await.take() {
                        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        phases.nanos.fetch_add(nanos, Ordering::Relaxed);
                    }
                    let over = control.stop.load(Ordering::Relaxed)
                        || control.timing.load(Ordering::Relaxed)
                            && control.budget.load(Ordering::Relaxed) == 0;
                    phases.over.store(over, Ordering::SeqCst);
                }
                // Everyone reads the leader's decision after this.
                phases.barrier.wait().await;
                if phases.over.load(Ordering::SeqCst) || failed && samples.micros.is_empty() {
                    break;
                }
            }
        }
    }
    Ok(samples)
}

fn record(samples: &mut Samples, res: Result<Resp>, dt: Duration, expect: u16) {
    match res {
        Ok(r) => {
            *samples.statuses.entry(r.status).or_default() += 1;
            if r.status == expect {
                samples.micros.push(micros(dt));
            } else {
                let body = String::from_utf8_lossy(&r.body);
                let body: String = body.chars().take(300).collect();
                samples.error(format!("status {}: {body}", r.status));
            }
        }
        Err(e) => samples.error(e.to_string()),
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted.get(i).copied().unwrap_or(0)) / 1000.0
}

fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(name: &str, args: &Args, all: &mut Samples, elapsed: f64, rss_kb: Option<u64>) {
    all.micros.sort_unstable();
    all.authorize_micros.sort_unstable();
    all.token_micros.sort_unstable();
    let ok = all.micros.len();
    let rate = ok as f64 / elapsed;
    let (p50, p90, p99) = (
        percentile(&all.micros, 50.0),
        percentile(&all.micros, 90.0),
        percentile(&all.micros, 99.0),
    );
    let max = all
        .micros
        .last()
        .map_or(f64::NAN, |m| f64::from(*m) / 1000.0);
    let mut line = format!(
        "{name}: {ok} ok, {} errors in {elapsed:.2} s at concurrency {} → {rate:.0} /s; latency ms p50 {p50:.3} p90 {p90:.3} p99 {p99:.3} max {max:.3}",
        all.errors, args.concurrency
    );
    if matches!(args.scenario, Scenario::CodeExchange { .. }) {
        line.push_str(" (time = the exchange phases only; codes are minted untimed between them)");
    }
    if !all.authorize_micros.is_empty() {
        line.push_str(&format!(
            "; steps p50/p99 ms: authorize {:.3}/{:.3}, token {:.3}/{:.3}",
            percentile(&all.authorize_micros, 50.0),
            percentile(&all.authorize_micros, 99.0),
            percentile(&all.token_micros, 50.0),
            percentile(&all.token_micros, 99.0),
        ));
    }
    if let Some(kb) = rss_kb {
        line.push_str(&format!("; daemon VmRSS peak {:.1} MB", kb as f64 / 1024.0));
    }
    println!("{line}");
    if let Some(e) = &all.first_error {
        println!("  first error: {e}");
    }
    if args.json {
        let json = serde_json::json!({
            "name": name,
            "ok": ok,
            "errors": all.errors,
            "statuses": all.statuses,
            "elapsed_s": elapsed,
            "concurrency": args.concurrency,
            "per_s": rate,
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max,
            "rss_peak_kb": rss_kb,
        });
        println!("{json}");
    }
}
