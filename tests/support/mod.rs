//! Shared helpers for the in-process integration tests.

#![allow(dead_code)]

pub mod fake_ami;
pub mod fake_ari;
pub mod router;
pub mod scripted_pbx;

use std::path::{Path, PathBuf};

/// A fresh folder under the system's temp dir (`centralita-<name>-<pid>`), removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("centralita-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
