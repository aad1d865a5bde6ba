//! The demo catalog: enough realistic courses that a fresh install is worth
//! looking at from its first page.

use crate::db::{self, DbConnection};
use crate::domain::Currency;
use crate::models::course::{Course, NewCourse};

struct DemoCourse {
    slug: &'static str,
    title: &'static str,
    summary: &'static str,
    description: &'static str,
    /// Price in whole units of the shop's currency ...
    price: i64,
    /// ... except in rupiah, where courses sell for what Indonesian
    /// learning platforms ask (whole rupiah).
    price_idr: i64,
    published: bool,
}

const DEMO_COURSES: &[DemoCourse] = &[
    DemoCourse {
        slug: "rust-for-web-developers",
        title: "Rust for Web Developers",
        summary: "Build fast, safe web services with Rust, from ownership to async handlers.",
        description: "Twelve modules that take you from your first borrow-checker error to a production web service. \
                      You will write an HTTP API with actix-web, talk to PostgreSQL with diesel, test it end to end \
                      and deploy it as a single binary.",
        price: 89,
        price_idr: 799_000,
        published: true,
    },
    DemoCourse {
        slug: "postgresql-in-practice",
        title: "PostgreSQL in Practice",
        summary: "Schema design, indexes, transactions and query plans for application developers.",
        description: "Learn to read EXPLAIN output, choose the right index, use transactions and isolation levels \
                      correctly, and design schemas that stay fast at millions of rows.",
        price: 69,
        price_idr: 599_000,
        published: true,
    },
    DemoCourse {
        slug: "ux-design-foundations",
        title: "UX Design Foundations",
        summary: "Research, wireframes and usability testing: the designer's core toolkit.",
        description: "Run interviews, turn findings into personas and journeys, sketch and wireframe, then test \
                      your prototypes with real users. Includes templates for every step.",
        price: 59,
        price_idr: 499_000,
        published: true,
    },
    DemoCourse {
        slug: "data-analysis-with-python",
        title: "Data Analysis with Python",
        summary: "pandas, plots and honest statistics, from a messy CSV to a clear answer.",
        description: "Clean real-world data, explore it with pandas, visualise it with matplotlib and avoid the \
                      statistical mistakes that make charts lie. Ten hands-on projects.",
        price: 79,
        price_idr: 699_000,
        published: true,
    },
    DemoCourse {
        slug: "machine-learning-essentials",
        title: "Machine Learning Essentials",
        summary: "Regression, trees and neural networks explained with code you can run.",
        description: "The ideas behind the models, the code that trains them and the evaluation that tells you \
                      whether they work. From linear regression to a small neural network.",
        price: 129,
        price_idr: 1_199_000,
        published: true,
    },
    DemoCourse {
        slug: "modern-javascript",
        title: "Modern JavaScript",
        summary: "The language as it is today: modules, async/await, and the browser APIs that matter.",
        description: "A fast, thorough tour of JavaScript for people who already program: closures, promises, \
                      modules, fetch, the DOM, and how to structure a small front end without a framework.",
        price: 49,
        price_idr: 399_000,
        published: true,
    },
    DemoCourse {
        slug: "product-management-101",
        title: "Product Management 101",
        summary: "Discovery, prioritisation and roadmaps: how good product teams decide what to build.",
        description: "Frame problems, size opportunities, run discovery, prioritise with evidence and write \
                      roadmaps that survive contact with engineering.",
        price: 99,
        price_idr: 899_000,
        published: true,
    },
    DemoCourse {
        slug: "public-speaking-for-engineers",
        title: "Public Speaking for Engineers",
        summary: "Give technical talks people remember, without the stage fright.",
        description: "Structure a talk, design slides that support rather than compete, rehearse effectively and \
                      handle questions. Includes recorded practice sessions and feedback checklists.",
        price: 39,
        price_idr: 299_000,
        published: true,
    },
    DemoCourse {
        slug: "kubernetes-deep-dive",
        title: "Kubernetes Deep Dive",
        summary: "Coming soon: scheduling, networking and operators, from the inside.",
        description: "An advanced course in preparation; not yet on sale.",
        price: 149,
        price_idr: 1_499_000,
        published: false,
    },
];

/// Adds the demo courses that are not there yet; returns how many it added.
pub fn seed_demo_catalog(
    conn: &mut DbConnection,
    currency: Currency,
) -> diesel::QueryResult<usize> {
    let scale = 10i64.pow(currency.exponent());
    let mut added = 0;
    for (i, demo) in DEMO_COURSES.iter().enumerate() {
        // Spread creation times so the catalog order is the order above.
        let at = db::now() + chrono::TimeDelta::microseconds(i as i64);
        let inserted = NewCourse {
            slug: demo.slug,
            title: demo.title,
            summary: demo.summary,
            description: demo.description,
            price_cents: if currency.code() == "IDR" {
                demo.price_idr * scale
            } else {
                demo.price * scale
            },
            currency,
            published: demo.published,
            created_at: at,
            updated_at: at,
            cover_image: None,
            lms_url: None,
        }
        .insert_if_new(conn)?;
        added += usize::from(inserted);
    }
    Ok(added)
}

/// Seeds the demo catalog only when the shop has no course at all.
pub fn seed_if_empty(conn: &mut DbConnection, currency: Currency) -> diesel::QueryResult<usize> {
    if Course::count(conn)? > 0 {
        return Ok(0);
    }
    seed_demo_catalog(conn, currency)
}
