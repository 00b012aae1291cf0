"""soundlake.stack: installs, starts, checks and stops the local stack of real services."""
