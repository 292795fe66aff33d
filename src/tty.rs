//! `-t`: the host terminal in raw mode, relayed both ways to the pty master
//! whose slave is the container's terminal, with window-size changes passed
//! on and the terminal restored on exit.

use crate::sys;

pub struct Relay {
    master: i32,
    saved: Option<sys::Termios>,
    stdin_open: bool,
}

/// The host terminal's size, to give the container's pty at start.
pub fn host_winsize() -> Option<sys::Winsize> {
    sys::get_winsize(0).or_else(|_| sys::get_winsize(1)).ok()
}

fn make_raw(t: &mut sys::Termios) {
    use linux_raw_sys::general as g;
    t.c_iflag &=
        !(g::IGNBRK | g::BRKINT | g::PARMRK | g::ISTRIP | g::INLCR | g::IGNCR | g::ICRNL | g::IXON);
    t.c_oflag &= !g::OPOST;
    t.c_lflag &= !(g::ECHO | g::ECHONL | g::ICANON | g::ISIG | g::IEXTEN);
    t.c_cflag &= !(g::CSIZE | g::PARENB);
    t.c_cflag |= g::CS8;
    t.c_cc[g::VMIN as usize] = 1;
    t.c_cc[g::VTIME as usize] = 0;
}

impl Relay {
    pub fn new(master: i32) -> Relay {
        let saved = sys::tcgetattr(0).ok();
        if let Some(t) = saved {
            let mut raw = t;
            make_raw(&mut raw);
            let _ = sys::tcsetattr(0, &raw);
        }
        Relay {
            master,
            saved,
            stdin_open: true,
        }
    }

    pub fn poll_fds(&self, fds: &mut [sys::PollFd]) {
        fds[0].fd = self.master;
        fds[1].fd = if self.stdin_open { 0 } else { -1 };
    }

    /// Moves whatever is ready, in both directions.
    pub fn pump(&mut self, fds: &[sys::PollFd]) {
        let mut buf = [0u8; 4096];
        if fds[0].revents & (sys::POLLIN | sys::POLLHUP) != 0
            && let Ok(n) = sys::read(self.master, &mut buf)
        {
            let _ = sys::write_all(1, &buf[..n]);
        }
        if fds[1].revents & (sys::POLLIN | sys::POLLHUP) != 0 {
            match sys::read(0, &mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false,
                Ok(n) => {
                    let _ = sys::write_all(self.master, &buf[..n]);
                }
            }
        }
    }

    /// Copies what the container wrote before it exited.
    pub fn drain(&mut self) {
        let _ = sys::fcntl(self.master, 4, sys::O_NONBLOCK as usize); // F_SETFL
        let mut buf = [0u8; 4096];
        while let Ok(n) = sys::read(self.master, &mut buf) {
            if n == 0 || sys::write_all(1, &buf[..n]).is_err() {
                break;
            }
        }
    }

    pub fn resize(&self) {
        if let Some(w) = host_winsize() {
            let _ = sys::set_winsize(self.master, &w);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = sys::tcsetattr(0, t);
        }
    }
}
