from django.core.management.base import BaseCommand, CommandError

from members.models import Merchant
from members.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("merchant_slug")
        parser.add_argument("--name", default="integration")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument(
            "--rate-limit", type=int, default=None, metavar="PER_MINUTE",
            help="Requests per minute for this key (default: API_RATE_LIMIT).",
        )

    def handle(self, *args, merchant_slug, name, read_only, rate_limit=None, **options):
        if rate_limit is not None and not 1 <= rate_limit <= 1_000_000:
            raise CommandError("--rate-limit must be from 1 to 1000000 requests per minute.")
        merchant = Merchant.objects.filter(slug=merchant_slug).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug {merchant_slug!r}.")
        api_key, raw = api_key_create(merchant=merchant, name=name, read_only=read_only,
                                      rate_limit_per_minute=rate_limit)
        self.stdout.write(
            f"API key {api_key.prefix} for {merchant.slug}"
            f"{' (read-only)' if read_only else ''}; it is shown only now:"
        )
        self.stdout.write(raw)
