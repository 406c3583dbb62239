//! The simulated NodeMCU console byte for byte: echo, prompts, the 255-byte discard, the RX
//! buffer, error texts and the otaupgrade rules.

use std::time::Duration;

use otadeck_core::driver::nodemcu::lines::{chunk_line, PREPARE_LINE};
use otadeck_sim::firmware::{demo_running_image, sample_image, SAMPLE_VERSION};
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig, BOOT_LOG, RX_BUFFER};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Send `bytes` at `at`, then let the board run for a second; what it printed.
fn say(b: &mut NodeMcu, at: &mut Duration, bytes: &[u8]) -> String {
    b.receive(*at, bytes);
    *at += Duration::from_secs(60);
    b.tick(*at);
    String::from_utf8_lossy(&b.transmit(*at)).into_owned()
}

fn board() -> NodeMcu {
    NodeMcu::new(NodeMcuConfig::default(), demo_running_image())
}

#[test]
fn echo_prompts_and_errors() {
    let mut b = board();
    let mut t = ms(0);
    assert_eq!(say(&mut b, &mut t, b"\r\n"), "\n> ");
    assert_eq!(say(&mut b, &mut t, b"print(1)\r\n"), "print(1)\n1\r\n> ");
    assert_eq!(
        say(&mut b, &mut t, b"prinx\x7ft(2)\n"),
        "prinx\x08 \x08t(2)\n2\r\n> "
    );
    assert_eq!(
        say(&mut b, &mut t, b"function f(s)\n"),
        "function f(s)\n>> "
    );
    assert_eq!(say(&mut b, &mut t, b"print(s) end\n"), "print(s) end\n> ");
    assert_eq!(say(&mut b, &mut t, b"f(\"x\")\n"), "f(\"x\")\nx\r\n> ");
    assert_eq!(
        say(&mut b, &mut t, b"otaupgrade.complete()\n"),
        "otaupgrade.complete()\nLua error: no upgrade in progress\r\n> "
    );
    assert_eq!(
        say(&mut b, &mut t, b"otaupgrade.write(\"x\")\n"),
        "otaupgrade.write(\"x\")\nLua error: write not possible, use otaupgrade.commence() first\r\n> "
    );
    say(&mut b, &mut t, b"otaupgrade.commence()\n");
    assert_eq!(
        say(&mut b, &mut t, b"otaupgrade.write(\"x\")\n"),
        "otaupgrade.write(\"x\")\nLua error: not a valid ota image\r\n> "
    );
    assert_eq!(
        say(&mut b, &mut t, b"encoder.fromBase64(\"%%\")\n"),
        "encoder.fromBase64(\"%%\")\nLua error: failed base64 decode\r\n> "
    );
}

#[test]
fn a_line_of_255_bytes_is_dropped_silently() {
    let mut b = board();
    let mut t = ms(0);
    let mut line = "print(\"".to_string();
    line.push_str(&"a".repeat(255 - line.len()));
    let out = say(&mut b, &mut t, format!("{line}\n").as_bytes());
    // Every byte is echoed, the line is gone, and the empty rest just reprints the prompt.
    assert_eq!(out, format!("{line}\n> "));
    assert_eq!(b.discarded_lines, 1);
    let ok = format!("print(\"{}\")", "a".repeat(240));
    assert!(say(&mut b, &mut t, format!("{ok}\n").as_bytes()).ends_with("\r\n> "));
    assert_eq!(b.discarded_lines, 1);
}

#[test]
fn input_sent_while_a_line_runs_waits_in_a_256_byte_buffer() {
    let mut b = board();
    b.receive(ms(0), b"otaupgrade.commence()\n");
    let extra = vec![b' '; RX_BUFFER + 10];
    b.receive(ms(1), &extra);
    assert_eq!(b.rx_overflow, 10);
    b.tick(Duration::from_secs(60));
    let out = String::from_utf8_lossy(&b.transmit(Duration::from_secs(60))).into_owned();
    assert_eq!(
        out,
        format!("otaupgrade.commence()\n> {}", " ".repeat(RX_BUFFER))
    );
}

#[test]
fn complete_then_restart_boots_the_new_slot_on_trial() {
    let mut b = board();
    let mut t = ms(0);
    say(
        &mut b,
        &mut t,
        b"function w(s) otaupgrade.write(encoder.fromBase64(s)) end otaupgrade.commence()\n",
    );
    use base64::Engine as _;
    for chunk in sample_image().chunks(183) {
        let line = format!(
            "w(\"{}\")\n",
            base64::engine::general_purpose::STANDARD.encode(chunk)
        );
        assert_eq!(say(&mut b, &mut t, line.as_bytes()), format!("{line}> "));
    }
    assert_eq!(
        say(&mut b, &mut t, b"otaupgrade.complete(1)\n"),
        format!("otaupgrade.complete(1)\n{BOOT_LOG}")
    );
    assert_eq!(b.flash.running_version(), SAMPLE_VERSION);
    let out = say(&mut b, &mut t, b"=otaupgrade.info()\n");
    assert!(out.contains("ota_1\tota_1\ttable:"), "{out}");
    // Not accepted: a power cycle rolls back.
    b.power_cycle(t);
    assert_eq!(b.flash.running_version(), "2.0.3");
}

/// A hand-made sender at `baud`: the prepare line, then the sample image's write lines, each sent
/// once fewer than `unechoed` lines sent before it still wait for the end of their echo (1 is the
/// driver's rule: line N+1 goes once N's echo is complete). Gives the board once the line is quiet.
fn stream(unechoed: usize, baud: u32, write_time: Duration) -> NodeMcu {
    let config = NodeMcuConfig {
        write_time,
        console_baud: baud,
        ..NodeMcuConfig::default()
    };
    let mut link = SimLink::new(NodeMcu::new(config, demo_running_image()), baud);
    let image = sample_image();
    let lines: Vec<String> = (0..image.len())
        .step_by(183)
        .map(|at| chunk_line(&image, at).0 + "\n")
        .collect();
    let mut now = Duration::ZERO;
    link.host_write(now, format!("{PREPARE_LINE}\n").as_bytes());
    // Line ends seen: the prepare line's, then one per write line (they print nothing).
    let (mut sent, mut line_ends, mut last) = (0, 0, Vec::new());
    while let Some(next) = link.next_event() {
        now = next;
        let got = link.host_read(now);
        line_ends += got.iter().filter(|&&b| b == b'\n').count();
        if !got.is_empty() {
            last = got;
        }
        let echoed = line_ends.saturating_sub(1);
        let prepared = sent > 0 || (line_ends == 1 && last.ends_with(b" "));
        while prepared && sent < lines.len() && sent < echoed + unechoed {
            link.host_write(now, lines[sent].as_bytes());
            sent += 1;
        }
    }
    assert!(now < Duration::from_secs(600));
    assert_eq!(sent, lines.len(), "{line_ends} line ends");
    link.device
}

#[test]
fn one_line_ahead_fits_the_rx_buffer_and_two_do_not() {
    for baud in [115_200, 921_600] {
        // Write calls slower than a line on the wire: the buffer fills while a line runs.
        let slow = ms(30);
        let b = stream(1, baud, slow);
        assert_eq!((b.rx_overflow, b.discarded_lines), (0, 0), "{baud}");
        assert_eq!(b.rx_peak, 250, "{baud}: one whole line waited");
        assert_eq!(b.flash.update_data(), Some(sample_image().as_slice()));
        // Two lines ahead: 500 bytes pile up behind a running line, and the board loses some.
        let b = stream(2, baud, slow);
        assert_eq!(b.rx_peak, RX_BUFFER, "{baud}");
        assert!(b.rx_overflow > 0, "{baud}");
        assert_ne!(b.flash.update_data(), Some(sample_image().as_slice()));
        // With calls quicker than a line, the board keeps up either way.
        let b = stream(2, baud, ms(1));
        assert_eq!(b.rx_overflow, 0, "{baud}");
    }
}

/// Runs the line until nothing moves; what reached the host.
fn settle(link: &mut SimLink<NodeMcu>) -> Vec<u8> {
    let mut got = Vec::new();
    while let Some(t) = link.next_event() {
        got.extend(link.host_read(t));
    }
    got
}

#[test]
fn uart_setup_changes_the_console_rate_after_its_line_and_a_wrong_rate_garbles() {
    let mut link = SimLink::new(board(), 115_200);
    link.host_write(Duration::ZERO, b"uart.setup(0,921600,8,0,1,1)\n");
    let got = settle(&mut link);
    // The echo comes at the old rate, the prompt at the new one.
    let echo = b"uart.setup(0,921600,8,0,1,1)\n";
    assert_eq!(&got[..echo.len()], echo);
    assert_ne!(&got[echo.len()..], b"> ");
    assert_eq!(link.device.uart_rate, 921_600);
    // The host follows: a line end gets a clean prompt.
    link.set_baud(921_600);
    let now = link.now();
    link.host_write(now, b"\n");
    assert_eq!(settle(&mut link), b"\n> ");
    // A restart brings the console back to 115200, where a host at 921600 reads garbage.
    let now = link.now();
    link.host_write(now, b"node.restart()\n");
    let got = settle(&mut link);
    assert_eq!(link.device.uart_rate, 115_200);
    assert!(!String::from_utf8_lossy(&got).contains("NodeMCU ESP32 build"));
    link.set_baud(115_200);
    let now = link.now();
    link.host_write(now, b"\n");
    assert_eq!(settle(&mut link), b"\n> ");
}

#[test]
fn a_firmware_without_the_uart_module_says_nil() {
    let mut b = NodeMcu::new(
        NodeMcuConfig {
            no_uart_module: true,
            ..NodeMcuConfig::default()
        },
        demo_running_image(),
    );
    let mut t = ms(0);
    assert_eq!(say(&mut b, &mut t, b"=uart\n"), "=uart\nnil\r\n> ");
}
