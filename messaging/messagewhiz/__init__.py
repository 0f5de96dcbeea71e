"""MessageWhiz (https://sms.messagewhiz.com) API v3: `client.MessageWhizClient` and its typed `errors`."""
