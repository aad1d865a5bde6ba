// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    cart_items (id) {
        id -> Int8,
        cart_id -> Int8,
        course_id -> Int8,
        added_at -> Timestamp,
        added_price_cents -> Nullable<Int8>,
    }
}

diesel::table! {
    billing_details (user_id) {
        user_id -> Int8,
        company -> Nullable<Text>,
        address -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    carts (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        token -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    course_changes (id) {
        id -> Int8,
        course_id -> Int8,
        staff_id -> Nullable<Int8>,
        changed_at -> Timestamp,
        changes -> Text,
    }
}

diesel::table! {
    courses (id) {
        id -> Int8,
        slug -> Text,
        title -> Text,
        summary -> Text,
        description -> Text,
        price_cents -> Int8,
        currency -> Text,
        published -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cover_image -> Nullable<Text>,
        lms_url -> Nullable<Text>,
    }
}

diesel::table! {
    credit_notes (id) {
        id -> Int8,
        number -> Text,
        order_id -> Int8,
        invoice_number -> Text,
        amount_cents -> Int8,
        currency -> Text,
        credited_cents -> Int8,
        reason -> Nullable<Text>,
        issued_at -> Timestamp,
        tax_cents -> Int8,
        cause -> Text,
        source_id -> Nullable<Text>,
    }
}

diesel::table! {
    document_sequences (kind, year) {
        kind -> Text,
        year -> Int4,
        last_number -> Int8,
    }
}

diesel::table! {
    financial_journals (id) {
        id -> Int8,
        #[sql_name = "type"]
        type_ -> Text,
        amount_cents -> Int8,
        currency -> Text,
        status -> Text,
        description -> Text,
        reference_id -> Nullable<Int8>,
        metadata -> Text,
        provider_event_id -> Nullable<Text>,
        idempotency_key -> Text,
        created_at -> Timestamp,
        prev_hash -> Nullable<Text>,
        row_hash -> Nullable<Text>,
    }
}

diesel::table! {
    installation (id) {
        id -> Int4,
        installation_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    journal_chain (id) {
        id -> Int4,
        last_hash -> Text,
        length -> Int8,
    }
}

diesel::table! {
    journal_seals (seq) {
        seq -> Int8,
        journal_id -> Int8,
        prev_mac -> Text,
        mac -> Text,
        sealed_at -> Timestamp,
    }
}

diesel::table! {
    lms_outbox (id) {
        id -> Int8,
        event_id -> Text,
        event_type -> Text,
        user_id -> Int8,
        course_id -> Int8,
        payload -> Text,
        created_at -> Timestamp,
        attempts -> Int4,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        throttle_key -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        kind -> Text,
        recipient -> Text,
        user_id -> Nullable<Int8>,
        order_id -> Nullable<Int8>,
        details -> Text,
        subject -> Nullable<Text>,
        text_body -> Nullable<Text>,
        html_body -> Nullable<Text>,
        message_id -> Text,
        created_at -> Timestamp,
        attempts -> Int4,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    order_items (id) {
        id -> Int8,
        order_id -> Int8,
        course_id -> Int8,
        title -> Text,
        unit_price_cents -> Int8,
        discount_cents -> Int8,
        total_cents -> Int8,
        tax_cents -> Int8,
    }
}

diesel::table! {
    orders (id) {
        id -> Int8,
        number -> Text,
        user_id -> Int8,
        status -> Text,
        subtotal_cents -> Int8,
        discount_cents -> Int8,
        total_cents -> Int8,
        refunded_cents -> Int8,
        currency -> Text,
        promo_code_id -> Nullable<Int8>,
        promo_code -> Nullable<Text>,
        promo_snapshot -> Nullable<Text>,
        provider -> Text,
        payment_intent_id -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        canceled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cart_fingerprint -> Nullable<Text>,
        review_note -> Nullable<Text>,
        charge_id -> Nullable<Text>,
        dispute_id -> Nullable<Text>,
        dispute_status -> Nullable<Text>,
        refunds_as_of -> Nullable<Timestamp>,
        invoice_number -> Nullable<Text>,
        legacy_number -> Nullable<Text>,
        seller_details -> Nullable<Text>,
        buyer_company -> Nullable<Text>,
        buyer_address -> Nullable<Text>,
        buyer_tax_id -> Nullable<Text>,
        tax_cents -> Int8,
        tax_inclusive -> Bool,
    }
}

diesel::table! {
    password_resets (id) {
        id -> Int8,
        user_id -> Int8,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    promo_code_courses (promo_code_id, course_id) {
        promo_code_id -> Int8,
        course_id -> Int8,
    }
}

diesel::table! {
    promo_codes (id) {
        id -> Int8,
        code -> Text,
        kind -> Text,
        percent_bps -> Nullable<Int4>,
        amount_cents -> Nullable<Int8>,
        currency -> Nullable<Text>,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        max_redemptions -> Nullable<Int8>,
        per_user_limit -> Nullable<Int8>,
        min_subtotal_cents -> Int8,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reserved_count -> Int8,
    }
}

diesel::table! {
    promo_redemptions (id) {
        id -> Int8,
        promo_code_id -> Int8,
        order_id -> Int8,
        user_id -> Int8,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refund_requests (id) {
        id -> Int8,
        order_id -> Int8,
        amount_cents -> Int8,
        currency -> Text,
        reason -> Text,
        requested_by -> Int8,
        idempotency_key -> Text,
        provider_refund_id -> Nullable<Text>,
        journalled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> Int8,
        provider_refund_id -> Text,
        order_id -> Int8,
        amount_cents -> Int8,
        currency -> Text,
        status -> Text,
        provider_created_at -> Timestamp,
        reversed_as_of -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sandbox_payment_intents (id) {
        id -> Text,
        client_secret -> Text,
        amount -> Int8,
        currency -> Text,
        status -> Text,
        metadata -> Text,
        last_error -> Nullable<Text>,
        idempotency_key -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        amount_refunded -> Int8,
    }
}

diesel::table! {
    sandbox_refunds (id) {
        id -> Text,
        payment_intent_id -> Text,
        amount -> Int8,
        idempotency_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    seller_settings (id) {
        id -> Int4,
        name -> Nullable<Text>,
        address -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        footer -> Nullable<Text>,
        updated_at -> Timestamp,
        updated_by -> Nullable<Int8>,
    }
}

diesel::table! {
    user_courses (id) {
        id -> Int8,
        user_id -> Int8,
        course_id -> Int8,
        order_id -> Nullable<Int8>,
        granted_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoke_reason -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        name -> Text,
        role -> Text,
        session_version -> Int4,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        stripe_customer_id -> Nullable<Text>,
        locale -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        payload -> Text,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        api_version -> Nullable<Text>,
    }
}

diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> courses (course_id));
diesel::joinable!(carts -> users (user_id));
diesel::joinable!(course_changes -> courses (course_id));
diesel::joinable!(course_changes -> users (staff_id));
diesel::joinable!(billing_details -> users (user_id));
diesel::joinable!(credit_notes -> orders (order_id));
diesel::joinable!(financial_journals -> orders (reference_id));
diesel::joinable!(journal_seals -> financial_journals (journal_id));
diesel::joinable!(lms_outbox -> courses (course_id));
diesel::joinable!(lms_outbox -> users (user_id));
diesel::joinable!(mail_outbox -> orders (order_id));
diesel::joinable!(mail_outbox -> users (user_id));
diesel::joinable!(order_items -> courses (course_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(orders -> promo_codes (promo_code_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(promo_code_courses -> courses (course_id));
diesel::joinable!(promo_code_courses -> promo_codes (promo_code_id));
diesel::joinable!(promo_redemptions -> orders (order_id));
diesel::joinable!(promo_redemptions -> promo_codes (promo_code_id));
diesel::joinable!(promo_redemptions -> users (user_id));
diesel::joinable!(refund_requests -> orders (order_id));
diesel::joinable!(refund_requests -> users (requested_by));
diesel::joinable!(refunds -> orders (order_id));
diesel::joinable!(sandbox_refunds -> sandbox_payment_intents (payment_intent_id));
diesel::joinable!(seller_settings -> users (updated_by));
diesel::joinable!(user_courses -> courses (course_id));
diesel::joinable!(user_courses -> orders (order_id));
diesel::joinable!(user_courses -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    billing_details,
    cart_items,
    carts,
    course_changes,
    courses,
    credit_notes,
    document_sequences,
    financial_journals,
    installation,
    journal_chain,
    journal_seals,
    lms_outbox,
    login_attempts,
    mail_outbox,
    order_items,
    orders,
    password_resets,
    promo_code_courses,
    promo_codes,
    promo_redemptions,
    refund_requests,
    refunds,
    sandbox_payment_intents,
    sandbox_refunds,
    seller_settings,
    user_courses,
    users,
    webhook_events,
);
