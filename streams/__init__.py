"""The Faust application: settings, topics, metrics, web views, the embedded broker and the CLI."""
