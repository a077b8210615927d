//! What is limited and how much: one budget per [`Action`], the keys a budget is counted
//! against (a client network, an account, a name), and the bounds on what is tracked.

use std::net::IpAddr;
use std::time::Duration;

use crate::idm::UserId;

/// What is being limited. Each has its own budget per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /lc`: failed codes per client network.
    LoginCode,
    /// `POST /api/passkey/login/start`: every start per client network.
    PasskeyStart,
    /// `POST /api/passkey/login/finish`: failed sign-ins per client network.
    PasskeySignIn,
    /// `POST /api/passkey/login/finish`: failed assertions per account. Assertions cannot be
    /// guessed; this bounds the verifications and audit entries one account can be made the
    /// target of from many addresses, and it is high enough that the owner never meets it.
    PasskeyAccount,
    /// `POST /setup/{token}`: wrong tokens per client network.
    Setup,
    /// `POST /signup` (open signup): every attempt per client network.
    SignupOpen,
    /// `POST /st/{token}`: refused tokens per client network.
    SignupToken,
    /// `POST /login/email`, per client network: every request.
    EmailLinkRequest,
    /// `POST /login/email`, per address asked for: every request.
    EmailLinkAddress,
    /// `POST /login/email/verify`: failed codes and links per client network.
    EmailLinkUse,
}

impl Action {
    pub(super) const ALL: [Action; 10] = [
        Action::LoginCode,
        Action::PasskeyStart,
        Action::PasskeySignIn,
        Action::PasskeyAccount,
        Action::Setup,
        Action::SignupOpen,
        Action::SignupToken,
        Action::EmailLinkRequest,
        Action::EmailLinkAddress,
        Action::EmailLinkUse,
    ];

    /// (burst, one cell refills every …): the budget is `burst` at once, then one per interval.
    pub(super) fn budget(self) -> (u32, Duration) {
        const MINUTE: u64 = 60;
        match self {
            // 10 per 15 minutes.
            Action::LoginCode | Action::Setup | Action::SignupToken | Action::EmailLinkUse => {
                (10, Duration::from_secs(90))
            }
            // 100 per minute: a login page starts one on load and every four minutes; an office
            // behind one address loads many.
            Action::PasskeyStart => (100, Duration::from_millis(600)),
            // 30 per minute.
            Action::PasskeySignIn => (30, Duration::from_secs(2)),
            // 20 per 15 minutes.
            Action::PasskeyAccount => (20, Duration::from_secs(45)),
            // 10 per hour.
            Action::SignupOpen => (10, Duration::from_secs(6 * MINUTE)),
            // 5 per 15 minutes.
            Action::EmailLinkRequest => (5, Duration::from_secs(3 * MINUTE)),
            // 3 per hour.
            Action::EmailLinkAddress => (3, Duration::from_secs(20 * MINUTE)),
        }
    }

    pub(super) fn index(self) -> usize {
        Action::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

/// The most keys one budget tracks.
pub const MAX_KEYS: usize = 65_536;

/// Login-code failures across all addresses in an hour above which a warning is logged.
///
/// Why a warning and not a global lockout: a login code is 16 Crockford base32 characters,
/// 80 bits, so one guess hits one of `L` live codes with probability `L / 2^80`
/// (`2^80 ≈ 1.2e24`). Even a botnet that is never refused, guessing 10,000 times a second for
/// a year (3.2e11 guesses) against 10,000 live codes, succeeds with probability
/// 3.2e11 × 1e4 / 1.2e24 ≈ 3e-9. Guessing is hopeless with or without a global bound, while a
/// global budget an attacker can spend would refuse every user's valid code: the lockout this
/// module exists to prevent. So the per-address budget bounds each address and this watch
/// tells the admin when many addresses are guessing at once.
pub const LOGIN_CODE_WATCH: u32 = 1_000;

/// The caller is over the limit and may try again after this long (whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// What a budget is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client network: see [`Key::client`].
    Network(IpAddr),
    /// An account.
    Account(UserId),
    /// A name (an email address), kept only as a hash prefix.
    Name([u8; 16]),
}

impl Key {
    /// The client network of `ip`: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by /64.
    pub fn client(ip: IpAddr) -> Key {
        Key::Network(network(ip))
    }

    /// A name, folded by the caller (an email address lowercased).
    pub fn name(name: &str) -> Key {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        Key::Name(key)
    }
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 too); IPv6 by /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}
