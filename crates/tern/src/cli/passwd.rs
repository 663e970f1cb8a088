//! `tern passwd`: manage a password file (Mosquitto format). New and changed entries are hashed with
//! argon2id, or with `--scram` stored as SCRAM-SHA-256 credentials (RFC 5803), the only kind MQTT 5 SCRAM
//! logins can use (they also accept plain password logins); entries Tern did not touch, including Mosquitto's `$7$`/`$6$` ones, stay byte for byte.
//! Passwords come from `--password` or, safer (not visible in `ps`), one line on standard input.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use tern_auth::password::{HashCost, PasswordFile, StoredHash};

/// `tern passwd …`
#[derive(Args, Debug)]
pub struct PasswdArgs {
    #[command(subcommand)]
    action: Action,
}

/// What to do to the file.
#[derive(Subcommand, Debug)]
enum Action {
    /// Add a user (refused if it exists); the file is created if missing.
    Add {
        /// The password file.
        file: PathBuf,
        /// User name.
        user: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Change an existing user's password.
    Update {
        /// The password file.
        file: PathBuf,
        /// User name.
        user: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Remove a user.
    Delete {
        /// The password file.
        file: PathBuf,
        /// User name.
        user: String,
    },
    /// Add or update every user of INPUT, a file of `user:password` lines (plain text: delete it afterwards).
    Batch {
        /// The password file.
        file: PathBuf,
        /// Plain-text `user:password` lines; `-` reads standard input.
        input: PathBuf,
    },
    /// Check a password; exits with status 1 when it does not match.
    Verify {
        /// The password file.
        file: PathBuf,
        /// User name.
        user: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// List the users and the scheme of each hash.
    List {
        /// The password file.
        file: PathBuf,
    },
}

/// `--password`, else one line of standard input; `--scram` for the entry's kind.
#[derive(Args)]
struct PasswordArg {
    /// The password (visible to other local users in the process list; prefer standard input).
    #[arg(long)]
    password: Option<String>,
    /// Store a SCRAM-SHA-256 credential (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`)
    /// instead of argon2id, so the user can log in with MQTT 5 SCRAM enhanced authentication.
    #[arg(long)]
    scram: bool,
    /// PBKDF2 iterations of a SCRAM credential (at least 4096).
    #[arg(long, default_value_t = tern_auth::scram::DEFAULT_ITERATIONS, requires = "scram")]
    iterations: u32,
}

impl std::fmt::Debug for PasswordArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.password.is_some() {
            "<redacted>"
        } else {
            "<stdin>"
        };
        f.debug_struct("PasswordArg")
            .field("password", &shown)
            .field("scram", &self.scram)
            .finish()
    }
}

impl PasswordArg {
    fn get(&self) -> Result<String> {
        if let Some(p) = &self.password {
            return Ok(p.clone());
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let p = line.trim_end_matches(['\n', '\r']).to_string();
        if p.is_empty() {
            bail!("empty password (pass --password or one line on standard input)");
        }
        Ok(p)
    }

    /// The stored entry for the password: argon2id, or SCRAM with `--scram`.
    fn entry(&self) -> Result<StoredHash> {
        let password = self.get()?;
        if self.scram {
            return Ok(StoredHash::create_scram(&password, self.iterations)?);
        }
        hash(&password)
    }
}

fn load(file: &Path, create: bool) -> Result<PasswordFile> {
    if create && !file.exists() {
        return Ok(PasswordFile::default());
    }
    PasswordFile::load(file).with_context(|| format!("password file {}", file.display()))
}

fn save(pw: &PasswordFile, file: &Path) -> Result<()> {
    pw.save(file)
        .with_context(|| format!("cannot write {}", file.display()))
}

fn hash(password: &str) -> Result<StoredHash> {
    Ok(StoredHash::create(password, HashCost::default())?)
}

/// Runs `tern passwd`.
pub fn run(args: PasswdArgs) -> Result<()> {
    match args.action {
        Action::Add { file, user, password } => {
            let mut pw = load(&file, true)?;
            if pw.get(&user).is_some() {
                bail!(
                    "user {user:?} exists in {}; use `tern passwd update`",
                    file.display()
                );
            }
            pw.set(&user, password.entry()?)?;
            save(&pw, &file)
        }
        Action::Update { file, user, password } => {
            let mut pw = load(&file, false)?;
            if pw.get(&user).is_none() {
                bail!("no user {user:?} in {}; use `tern passwd add`", file.display());
            }
            pw.set(&user, password.entry()?)?;
            save(&pw, &file)
        }
        Action::Delete { file, user } => {
            let mut pw = load(&file, false)?;
            if !pw.remove(&user) {
                bail!("no user {user:?} in {}", file.display());
            }
            save(&pw, &file)
        }
        Action::Batch { file, input } => {
            let text = if input.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(&input).with_context(|| format!("cannot read {}", input.display()))?
            };
            let mut pw = load(&file, true)?;
            let (mut added, mut updated) = (0, 0);
            for (i, line) in text.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((user, password)) = line.split_once(':') else {
                    bail!("{} line {}: expected user:password", input.display(), i + 1);
                };
                if pw.set(user, hash(password)?)? {
                    updated += 1
                } else {
                    added += 1
                }
            }
            save(&pw, &file)?;
            println!("{}: {added} added, {updated} updated", file.display());
            Ok(())
        }
        Action::Verify { file, user, password } => {
            if password.scram {
                bail!("--scram applies to add and update; verify checks entries of every kind");
            }
            let pw = load(&file, false)?;
            if pw.verify(&user, password.get()?.as_bytes()) {
                println!("{user}: password OK");
                Ok(())
            } else {
                eprintln!("{user}: wrong user name or password");
                std::process::exit(1);
            }
        }
        Action::List { file } => {
            let pw = load(&file, false)?;
            for user in pw.users() {
                let scheme = pw.get(user).map_or("?", StoredHash::scheme);
                println!("{user}\t{scheme}");
            }
            Ok(())
        }
    }
}
