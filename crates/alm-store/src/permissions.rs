//! Effective permissions: direct roles plus roles of the user's enabled groups, with disabled
//! roles ignored (SPEC §2.3). One query, evaluated on every authenticated request.

use crate::error::StoreResult;
use crate::roles::parse_permission;
use alm_core::permissions::EffectivePermissions;
use alm_core::UserId;
use sqlx::AnyConnection;

pub async fn effective(
    conn: &mut AnyConnection,
    user: UserId,
) -> StoreResult<EffectivePermissions> {
    let texts: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT rp.permission FROM role_permissions rp \
         JOIN roles r ON r.id = rp.role_id AND r.enabled = 1 \
         WHERE rp.role_id IN ( \
             SELECT ur.role_id FROM user_roles ur WHERE ur.user_id = $1 \
             UNION \
             SELECT gr.role_id FROM group_roles gr \
             JOIN alm_groups g ON g.id = gr.group_id AND g.enabled = 1 \
             JOIN group_members gm ON gm.group_id = g.id \
             WHERE gm.user_id = $1)",
    )
    .bind(user.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let perms = texts
        .iter()
        .map(|t| parse_permission(t))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(EffectivePermissions::new(perms))
}
