//! A simulated module served over WebSocket: one client at a time, binary messages carrying the
//! serial bytes each way, the simulation keeping to its line rate on the wall clock.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use otadeck_sim::line::{Device, SimLink};
use tungstenite::{Error, Message};

/// Serve `link` on `addr` until the process is stopped.
pub fn serve_ws<D: Device>(mut link: SimLink<D>, addr: &str) -> Result<ExitCode, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("ws: ws://{local}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let start = Instant::now();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let mut socket = match tungstenite::accept(stream) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("otadeck: WebSocket handshake failed: {e}");
                continue;
            }
        };
        let _ = socket
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(5)));
        loop {
            match socket.read() {
                Ok(Message::Binary(data)) => link.host_write(start.elapsed(), &data),
                Ok(Message::Text(text)) => link.host_write(start.elapsed(), text.as_bytes()),
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
            let out = link.host_read(start.elapsed());
            if !out.is_empty() && socket.send(Message::binary(out)).is_err() {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
