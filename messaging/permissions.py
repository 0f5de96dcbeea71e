"""Who may see and change provider settings: Django model permissions, granted to users or groups
in the admin (a superuser has all of them). Being staff grants none: staff only opens the admin."""

# The callback URLs carry the token that authenticates delivery reports, so whoever sees them can
# forge reports: only those who may change the account itself.
CALLBACK_URLS = "messaging.change_provideraccount"
