"""Strategy presets shipped as package data (`trimtab presets`)."""
