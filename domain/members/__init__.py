"""Members (OneID): one member per person, every identifier that belongs to them, consent,
merging duplicates and personal-data rights. Part of the identity context."""
