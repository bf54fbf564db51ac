"""Backup adapters: archive format and encryption, database snapshots, storage targets."""
