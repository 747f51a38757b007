"""pytest-mailbot: fixtures that run a mailbot sandbox and hand out throwaway inboxes."""
