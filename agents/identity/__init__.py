"""Identity resolution: one person, one profile, never two people fused (docs/identity.md)."""
