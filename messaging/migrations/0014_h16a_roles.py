from django.db import migrations

from messaging.roles import ROLES, roles_sync


def create_roles(apps, schema_editor):
    # On a fresh database the permissions do not exist yet (Django makes them after migrating):
    # the groups start empty and the post_migrate handler (messaging.apps) fills them.
    roles_sync(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("messaging", "0013_h16a_approval_threshold"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
