"""The security suite: access, content, files, tokens, mail, deployment."""
