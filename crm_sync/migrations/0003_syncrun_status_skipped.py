from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0002_secret_token_encrypted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("running", "running"),
                    ("succeeded", "succeeded"),
                    ("failed", "failed"),
                    ("skipped", "skipped"),
                ],
                default="running",
                max_length=10,
            ),
        ),
    ]
