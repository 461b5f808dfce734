"""HighLevel webhooks: verification, the replay store and the receiver shared by the plugin and forwarder."""
