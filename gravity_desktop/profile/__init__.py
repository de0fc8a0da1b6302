"""The reader's profile: questionnaire instruments, scoring per framework, and the profile card."""
