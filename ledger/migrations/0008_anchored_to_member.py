# A member-owned row's merchant and program are its member's: one foreign key to the member's
# (id, program, merchant) key on PostgreSQL instead of three plain ones (AnchorToMember).

import django.db.models.deletion
from django.db import migrations, models

from loyaltysite.migration_ops import AnchorToMember


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0007_idempotency_claims_released'),
        ('members', '0008_member_tenant_key'),
    ]

    operations = [
        AnchorToMember(
            model_name='entry',
            fields={
                'member': models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='members.member', verbose_name='member'),
                'merchant': models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
                'program': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.program', verbose_name='program'),
            },
        ),
        AnchorToMember(
            model_name='hold',
            fields={
                'member': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='holds', to='members.member', verbose_name='member'),
                'merchant': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
                'program': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.program', verbose_name='program'),
            },
        ),
    ]
