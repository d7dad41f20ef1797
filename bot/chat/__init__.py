"""The neutral chat port: events, messages, actions and the Messenger protocol every surface implements."""
