# Foreign keys whose own index a composite index leading with the same column already serves:
# one index fewer for every row an order writes. Only the index goes (DropCoveredIndex): the
# constraints stay as they are.

import django.db.models.deletion
from django.db import migrations, models

from loyaltysite.migration_ops import DropCoveredIndex


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0005_translatable_labels'),
        ('members', '0007_program_language_and_labels'),
    ]

    operations = [
        DropCoveredIndex(
            model_name='entry',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='members.member', verbose_name='member'),
        ),
        DropCoveredIndex(
            model_name='entry',
            name='merchant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
        ),
        DropCoveredIndex(
            model_name='idempotencykey',
            name='merchant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.merchant', verbose_name='merchant'),
        ),
    ]
