use actix_web::{HttpResponse, get, web};
use diesel::RunQueryDsl;

use super::{AppState, with_db};
use crate::error::AppError;

/// 200 when the database answers a query, 503 when it does not.
#[get("/healthz")]
pub(super) async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let engine = state.settings.database_url.engine();
    match with_db(&state, |conn| diesel::sql_query("SELECT 1").execute(conn)).await {
        Ok(Ok(_)) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": engine })))
        }
        Ok(Err(e)) => Err(AppError::Unavailable(format!(
            "health check query failed: {e}"
        ))),
        Err(e) => Err(e),
    }
}
