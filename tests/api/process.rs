//! `tokenledger serve` as a real process: for what only a process can show (kill -9, its
//! log on stderr).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;

pub struct ServeProcess {
    child: Child,
    pub address: String,
    /// Every line the process wrote to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServeProcess {
    /// Starts `serve` on the app's database and settings, with `log` as its filter, on a free
    /// port; returns once it listens.
    pub fn start(app: &TestApp, log: &str) -> ServeProcess {
        Self::start_with(app, log, &[])
    }

    /// As `start`, with more environment variables.
    pub fn start_with(app: &TestApp, log: &str, env: &[(&str, &str)]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenledger"))
            .arg("serve")
            .envs(env.iter().copied())
            .env("TOKENLEDGER_DATABASE_URL", &app.settings.database_url)
            .env("TOKENLEDGER_SIGNING_KEY", SIGNING_KEY)
            .env("TOKENLEDGER_BIND", "127.0.0.1:0")
            .env("TOKENLEDGER_LOG", log)
            .env(
                "TOKENLEDGER_BOOTSTRAP_ADMIN",
                format!("{}:{}", ADMIN.0, ADMIN.1),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tokenledger serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (found, listening) = std::sync::mpsc::channel();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let address: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = found.send(address);
                }
                collected.lock().expect("log lines").push(line);
            }
        });
        let address = listening
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("serve did not listen: {:?}", lines.lock()));
        ServeProcess {
            child,
            address: format!("http://{address}"),
            log: lines,
        }
    }

    /// SIGKILL: no shutdown, no flush, nothing finished.
    pub fn kill(mut self) {
        self.child.kill().expect("killed");
        let _ = self.child.wait();
    }

    /// The whole stderr so far, waiting briefly for lines still in the pipe.
    pub fn log_text(&self) -> String {
        let settled = Instant::now() + Duration::from_millis(200);
        while Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log.lock().expect("log lines").join("\n")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
