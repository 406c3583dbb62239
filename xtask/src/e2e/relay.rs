//! A TCP relay in front of a local server that can be cut, as a network that goes away: once
//! cut, it accepts nothing and every open connection is shut, so a browser's kept-alive
//! connections fail at once instead of hanging.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::Result;

/// A running relay.
pub struct Relay {
    /// Where it listens.
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    /// Relay a free localhost port to `backend`.
    pub fn start(backend: SocketAddr) -> Result<Relay> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind the relay: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("relay: {e}"))?;
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (stop, conns) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(backend) {
                            pipe(client, server, &conns);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Ok(Relay { addr, cut, open })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut the network: no new connection, and every open one shut.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().expect("relay lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // The accept loop notices within its 10 ms sleep.
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copy both ways between `a` and `b` until either side closes.
fn pipe(a: TcpStream, b: TcpStream, open: &Arc<Mutex<Vec<TcpStream>>>) {
    let clones = [a.try_clone(), b.try_clone(), a.try_clone(), b.try_clone()];
    let [Ok(a2), Ok(b2), Ok(a3), Ok(b3)] = clones else {
        return;
    };
    open.lock().expect("relay lock").extend([a3, b3]);
    for (mut from, mut to) in [(a, b2), (b, a2)] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
}
