-- The like-for-like hand-written baseline of bench/bench_segments.py (phase hand_full, issue 3):
-- what an analyst would write in DuckDB SQL to get the answer kequn's "feature table + every
-- built-in group" gives. Statement 1 computes, per customer known at $as_of, every column the
-- built-in groups of src/kequn/segments/library.toml read (with the ranks and medians of the
-- families) into a temp table; statement 2 counts each group's size (each label's for a
-- family) from it. Conventions (SPEC §1): a paid order has paid_at <= $as_of and a status other
-- than cancelled or refunded; "in the last N days" is $as_of - N days < t <= $as_of.
--
-- One hand-written shortcut: the paid order lines (orders x order_items), which six groups
-- read, are grouped once per customer and product into a MATERIALIZED CTE.

CREATE OR REPLACE TEMP TABLE hand_full AS
WITH
-- Everyone a group can hold: customers registered by $as_of (or registration unknown).
known AS (
    SELECT customer_id, registered_at, member_level
    FROM customers
    WHERE registered_at IS NULL OR registered_at <= $as_of
),

-- Orders placed or paid by $as_of, each flagged paid or not (every order-based group).
-- Read three times with each reader's filters rather than held in memory.
orders_seen AS NOT MATERIALIZED (
    SELECT order_id, customer_id, created_at, paid_at, status, amount, discount, promotion,
        paid_at IS NOT NULL AND paid_at <= $as_of
            AND (status IS NULL OR status NOT IN ('cancelled', 'refunded')) AS is_paid
    FROM orders
    WHERE created_at <= $as_of OR paid_at <= $as_of
),

-- The shop's calendar (holiday_shoppers): days some paid order carried a promotion, and the
-- Spring Festival, 除夕 to 初六 (the fixed-date festivals are in order_measures).
promotion_days AS (
    SELECT DISTINCT CAST(paid_at AS DATE) AS day
    FROM orders_seen
    WHERE is_paid AND promotion IS NOT NULL
),
spring_festival AS (
    SELECT CAST(new_year AS DATE) + CAST(k AS INTEGER) AS day
    FROM (VALUES ('2015-02-19'), ('2016-02-08'), ('2017-01-28'), ('2018-02-16'),
                 ('2019-02-05'), ('2020-01-25'), ('2021-02-12'), ('2022-02-01'),
                 ('2023-01-22'), ('2024-02-10'), ('2025-01-29'), ('2026-02-17'),
                 ('2027-02-06'), ('2028-01-26'), ('2029-02-13'), ('2030-02-03'))
        AS festival(new_year),
        range(-1, 7) AS offsets(k)
),

-- Per customer over the orders: R/F/M (lifecycle, winback_*, rfm_8, light/heavy_buyers,
-- one_order_only), new_customers, monthly/quarterly/half_yearly_buyers (mean gap of the
-- year), vip_pyramid (12-month spend), price_sensitive, campaign_buyers, high_end (AOV),
-- holiday_shoppers, registered_no_cart (placed orders), cart_no_order (last order placed),
-- order_unpaid (last unpaid order of 30 days).
order_measures AS (
    SELECT customer_id,
        count(*) FILTER (WHERE is_paid) AS paid_orders,
        round(sum(amount) FILTER (WHERE is_paid), 2) AS spend,
        max(paid_at) FILTER (WHERE is_paid) AS last_paid_at,
        count(*) FILTER (WHERE is_paid AND paid_at > $as_of - INTERVAL 720 DAY)
            AS paid_orders_720d,
        round(sum(amount) FILTER (WHERE is_paid AND paid_at > $as_of - INTERVAL 365 DAY), 2)
            AS spend_365d,
        (epoch(max(paid_at) FILTER (WHERE is_paid AND paid_at > $as_of - INTERVAL 365 DAY))
         - epoch(min(paid_at) FILTER (WHERE is_paid AND paid_at > $as_of - INTERVAL 365 DAY)))
            / 86400
            / nullif(count(*) FILTER (WHERE is_paid AND paid_at > $as_of - INTERVAL 365 DAY)
                     - 1, 0) AS mean_gap_days_365d,
        count(*) FILTER (WHERE is_paid AND (promotion IS NOT NULL OR coalesce(
            discount / nullif(amount + discount, 0) >= 0.2, FALSE))) AS promo_orders,
        count(DISTINCT promotion || '|' || strftime(paid_at, '%Y-%m'))
            FILTER (WHERE is_paid AND promotion IS NOT NULL) AS promotion_periods,
        count(*) FILTER (WHERE is_paid AND (
            month(paid_at) * 100 + day(paid_at) IN (
                101, 214, 308, 501, 502, 503, 504, 505, 520, 618,
                1001, 1002, 1003, 1004, 1005, 1006, 1007, 1111, 1212, 1224, 1225)
            OR CAST(paid_at AS DATE) IN (SELECT day FROM spring_festival)
            OR CAST(paid_at AS DATE) IN (SELECT day FROM promotion_days))) AS holiday_orders,
        count(*) FILTER (WHERE created_at <= $as_of) AS placed_orders,
        max(created_at) FILTER (WHERE created_at <= $as_of) AS last_placed_at,
        max(created_at) FILTER (
            WHERE created_at > $as_of - INTERVAL 30 DAY AND created_at <= $as_of
              AND (paid_at IS NULL OR paid_at > $as_of)
              AND (status IS NULL OR status NOT IN ('cancelled', 'refunded')))
            AS last_unpaid_30d
    FROM orders_seen
    GROUP BY customer_id
),

-- Per customer over the events: registered_no_cart (carts), favoriters, interest (carts and
-- favourites of 10 days), cart_no_order (last cart of 30 days), category_fans (views of 90
-- days), intent (score of 14 days, SPEC §3 weights).
event_measures AS (
    SELECT customer_id,
        count(*) FILTER (WHERE event = 'cart') AS carts,
        count(*) FILTER (WHERE event = 'favorite') AS favorites,
        count(*) FILTER (WHERE event IN ('cart', 'favorite')
                         AND event_time > $as_of - INTERVAL 10 DAY) AS carts_favorites_10d,
        max(event_time) FILTER (WHERE event = 'cart'
                                AND event_time > $as_of - INTERVAL 30 DAY) AS last_cart_30d,
        count(*) FILTER (WHERE event = 'view'
                         AND event_time > $as_of - INTERVAL 90 DAY) AS views_90d,
        -- rounded to 1e-6: ten views at 0.1 add up to 0.9999999999999999 otherwise
        round(sum(CASE event WHEN 'list_view' THEN 0.05 WHEN 'view' THEN 0.1
                             WHEN 'favorite' THEN 0.5 WHEN 'cart' THEN 1.0 WHEN 'order' THEN 3.0
                             ELSE 0.0 END)
            FILTER (WHERE event_time > $as_of - INTERVAL 14 DAY), 6) AS intent_score_14d
    FROM events
    WHERE event_time <= $as_of
    GROUP BY customer_id
),

-- Each product's position in its category's prices, 0 cheapest .. 1 dearest (price_band).
product_positions AS (
    SELECT product_id, category, launched_at,
        CASE
            WHEN price IS NULL THEN NULL
            WHEN count(*) OVER (PARTITION BY category, price IS NOT NULL) > 1
            THEN CAST(rank() OVER (PARTITION BY category, price IS NOT NULL ORDER BY price) - 1
                      AS DOUBLE)
                 / CAST(count(*) OVER (PARTITION BY category, price IS NOT NULL) - 1 AS DOUBLE)
            ELSE 0.5
        END AS price_position
    FROM products
),

-- The paid order lines, one row per customer and product (read by interest, repurchase_due,
-- new_arrival_fans, price_band, category_fans): computed once. A product is on one line of
-- an order, so the lines of a product are its paid orders.
customer_products AS MATERIALIZED (
    SELECT o.customer_id, i.product_id,
        count(*) AS orders,
        min(o.paid_at) AS first_at,
        max(o.paid_at) AS last_at,
        sum(coalesce(i.quantity, 1)) AS items,
        -- new_arrival_fans: items bought within 30 days of the product's launch
        sum(coalesce(i.quantity, 1)) FILTER (
            WHERE (epoch(o.paid_at) - epoch(p.launched_at)) / 86400 BETWEEN 0 AND 30)
            AS new_arrival_items,
        -- price_band, category_fans: the lines and items of the last year
        count(*) FILTER (WHERE o.paid_at > $as_of - INTERVAL 365 DAY) AS lines_365d,
        sum(coalesce(i.quantity, 1)) FILTER (WHERE o.paid_at > $as_of - INTERVAL 365 DAY)
            AS items_365d
    FROM orders_seen AS o
    JOIN order_items AS i ON i.order_id = o.order_id
    LEFT JOIN products AS p ON p.product_id = i.product_id
    WHERE o.is_paid
    GROUP BY o.customer_id, i.product_id
),

-- Per customer over the lines: new_arrival_fans (items bought, and within 30 days of
-- launch), price_band (mean price position of the lines of the year).
line_measures AS (
    SELECT cp.customer_id,
        sum(cp.items) AS items_bought,
        sum(cp.new_arrival_items) AS new_arrival_items,
        sum(pp.price_position * cp.lines_365d)
            / nullif(sum(cp.lines_365d) FILTER (WHERE pp.price_position IS NOT NULL), 0)
            AS price_position_365d
    FROM customer_products AS cp
    LEFT JOIN product_positions AS pp ON pp.product_id = cp.product_id
    GROUP BY cp.customer_id
),

-- interest: a product carted or favourited in the last 10 days and paid for after that.
carted_10d AS (
    SELECT customer_id, product_id, min(event_time) AS first_at
    FROM events
    WHERE event IN ('cart', 'favorite')
      AND event_time > $as_of - INTERVAL 10 DAY AND event_time <= $as_of
    GROUP BY customer_id, product_id
),
bought_after_cart AS (
    SELECT DISTINCT c.customer_id
    FROM carted_10d AS c
    JOIN customer_products AS cp
      ON cp.customer_id = c.customer_id AND cp.product_id = c.product_id
     AND cp.last_at > c.first_at
),

-- repurchase_due: per product, buyers, repurchase rate and median interval between a repeat
-- buyer's orders of it; the top 25% by rate among products with 20+ buyers; customers whose
-- last purchase of such a product was 0.8-1.2 x its interval ago.
product_cycles AS (
    SELECT product_id, count(*) AS buyers,
        count(*) FILTER (WHERE orders >= 2) / count(*) AS repurchase_rate,
        quantile_cont(CASE WHEN orders >= 2
                           THEN CAST(epoch(last_at) - epoch(first_at) AS DOUBLE) / 86400.0
                                / (orders - 1) END, 0.5) AS interval_days
    FROM customer_products
    GROUP BY product_id
),
repurchase_products AS (
    SELECT product_id, interval_days
    FROM (
        SELECT product_id, interval_days,
            CAST(rank() OVER (ORDER BY repurchase_rate DESC) AS DOUBLE)
                / CAST(count(*) OVER () AS DOUBLE) * 100 AS top_percent
        FROM product_cycles
        WHERE buyers >= 20
    )
    WHERE top_percent <= 25
),
due_again AS (
    SELECT DISTINCT cp.customer_id
    FROM customer_products AS cp
    JOIN repurchase_products AS r ON r.product_id = cp.product_id
    WHERE (epoch($as_of) - epoch(cp.last_at)) / 86400
          BETWEEN 0.8 * r.interval_days AND 1.2 * r.interval_days
),

-- category_fans: the top category's share of the view time of 90 days, and of the items
-- bought in 365 days. View times are sums of decimals in doubles, whose last bit depends on
-- the order DuckDB adds them in; rounded (to 1e-6 s, the share to 1e-9) a share that is 0.4
-- is 0.4 in every run (kequn's features.category_preference rounds the same way since this
-- baseline found a dozen customers of 1 M sitting exactly on 0.4 falling either side).
view_time_90d AS (
    SELECT e.customer_id, p.category, round(sum(e.duration_s), 6) AS seconds
    FROM events AS e
    JOIN products AS p ON p.product_id = e.product_id
    WHERE e.event = 'view' AND p.category IS NOT NULL
      AND e.event_time > $as_of - INTERVAL 90 DAY AND e.event_time <= $as_of
    GROUP BY e.customer_id, p.category
),
viewed_share AS (
    SELECT customer_id,
        round(max(seconds) / nullif(round(sum(seconds), 6), 0), 9) AS top_category_viewed_share
    FROM view_time_90d
    GROUP BY customer_id
),
bought_365d AS (
    SELECT cp.customer_id, p.category, sum(CAST(cp.items_365d AS DOUBLE)) AS items
    FROM customer_products AS cp
    JOIN products AS p ON p.product_id = cp.product_id
    WHERE p.category IS NOT NULL AND cp.lines_365d > 0
    GROUP BY cp.customer_id, p.category
),
bought_share AS (
    SELECT customer_id, max(items) / nullif(sum(items), 0) AS top_category_bought_share
    FROM bought_365d
    GROUP BY customer_id
),

-- Every customer known at $as_of with every measure (counts 0 without rows).
features AS (
    SELECT k.customer_id, k.registered_at, k.member_level,
        coalesce(o.paid_orders, 0) AS paid_orders,
        coalesce(o.spend, 0) AS spend,
        o.spend / nullif(o.paid_orders, 0) AS aov,
        o.last_paid_at,
        (epoch($as_of) - epoch(o.last_paid_at)) / 86400 AS recency_days,
        coalesce(o.paid_orders_720d, 0) AS paid_orders_720d,
        coalesce(o.spend_365d, 0) AS spend_365d,
        o.mean_gap_days_365d,
        coalesce(o.promo_orders, 0) AS promo_orders,
        coalesce(o.promotion_periods, 0) AS promotion_periods,
        coalesce(o.holiday_orders, 0) AS holiday_orders,
        coalesce(o.placed_orders, 0) AS placed_orders,
        o.last_placed_at, o.last_unpaid_30d,
        coalesce(e.carts, 0) AS carts,
        coalesce(e.favorites, 0) AS favorites,
        coalesce(e.carts_favorites_10d, 0) AS carts_favorites_10d,
        e.last_cart_30d,
        coalesce(e.views_90d, 0) AS views_90d,
        coalesce(e.intent_score_14d, 0) AS intent_score_14d,
        coalesce(l.items_bought, 0) AS items_bought,
        coalesce(l.new_arrival_items, 0) AS new_arrival_items,
        l.price_position_365d,
        vs.top_category_viewed_share,
        bs.top_category_bought_share,
        ba.customer_id IS NOT NULL AS bought_after_cart,
        da.customer_id IS NOT NULL AS repurchase_due
    FROM known AS k
    LEFT JOIN order_measures AS o ON o.customer_id = k.customer_id
    LEFT JOIN event_measures AS e ON e.customer_id = k.customer_id
    LEFT JOIN line_measures AS l ON l.customer_id = k.customer_id
    LEFT JOIN viewed_share AS vs ON vs.customer_id = k.customer_id
    LEFT JOIN bought_share AS bs ON bs.customer_id = k.customer_id
    LEFT JOIN bought_after_cart AS ba ON ba.customer_id = k.customer_id
    LEFT JOIN due_again AS da ON da.customer_id = k.customer_id
)
-- Ranks (percent from the top, ties share the best rank) and medians over each family's
-- population: vip_pyramid, high_end (AOV of every buyer), rfm_8, intent.
SELECT *,
    CASE WHEN spend_365d > 0
         THEN CAST(rank() OVER (PARTITION BY spend_365d > 0 ORDER BY spend_365d DESC) AS DOUBLE)
              / CAST(count(*) OVER (PARTITION BY spend_365d > 0) AS DOUBLE) * 100
    END AS spend_365d_top_percent,
    CASE WHEN aov IS NOT NULL
         THEN CAST(rank() OVER (PARTITION BY aov IS NULL ORDER BY aov DESC) AS DOUBLE)
              / CAST(count(*) OVER (PARTITION BY aov IS NULL) AS DOUBLE) * 100
    END AS aov_top_percent,
    CASE WHEN intent_score_14d > 0
         THEN CAST(rank() OVER (PARTITION BY intent_score_14d > 0
                                ORDER BY intent_score_14d DESC) AS DOUBLE)
              / CAST(count(*) OVER (PARTITION BY intent_score_14d > 0) AS DOUBLE) * 100
    END AS intent_top_percent,
    quantile_cont(recency_days, 0.5) OVER (PARTITION BY paid_orders > 0) AS median_recency,
    quantile_cont(paid_orders, 0.5) OVER (PARTITION BY paid_orders > 0) AS median_orders,
    quantile_cont(spend, 0.5) OVER (PARTITION BY paid_orders > 0) AS median_spend
FROM features;

-- Each built-in group's size; "family.label" for each label of a family.
SELECT
    count(*) FILTER (WHERE carts_favorites_10d > 0 AND NOT bought_after_cart) AS "interest",
    count(*) FILTER (WHERE paid_orders_720d = 1
                     AND last_paid_at > $as_of - INTERVAL 180 DAY) AS "new_customers",
    count(*) FILTER (WHERE repurchase_due) AS "repurchase_due",
    count(*) FILTER (WHERE registered_at IS NOT NULL AND carts = 0 AND placed_orders = 0)
        AS "registered_no_cart",
    count(*) FILTER (WHERE last_cart_30d IS NOT NULL
                     AND (last_placed_at IS NULL OR last_placed_at <= last_cart_30d))
        AS "cart_no_order",
    count(*) FILTER (WHERE last_unpaid_30d IS NOT NULL
                     AND (last_paid_at IS NULL OR last_paid_at <= last_unpaid_30d))
        AS "order_unpaid",
    count(*) FILTER (WHERE paid_orders = 1) AS "one_order_only",
    count(*) FILTER (WHERE favorites > 0) AS "favoriters",
    count(*) FILTER (WHERE last_paid_at > $as_of - INTERVAL 90 DAY) AS "active",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 90 DAY
                     AND last_paid_at > $as_of - INTERVAL 180 DAY) AS "sleeping",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 180 DAY
                     AND last_paid_at > $as_of - INTERVAL 365 DAY) AS "pre_churn",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 365 DAY) AS "churned",
    count(*) FILTER (WHERE paid_orders > 0 AND last_paid_at > $as_of - INTERVAL 90 DAY)
        AS "lifecycle.active",
    count(*) FILTER (WHERE paid_orders > 0 AND last_paid_at <= $as_of - INTERVAL 90 DAY
                     AND last_paid_at > $as_of - INTERVAL 180 DAY) AS "lifecycle.sleeping",
    count(*) FILTER (WHERE paid_orders > 0 AND last_paid_at <= $as_of - INTERVAL 180 DAY
                     AND last_paid_at > $as_of - INTERVAL 365 DAY) AS "lifecycle.pre_churn",
    count(*) FILTER (WHERE paid_orders > 0 AND last_paid_at <= $as_of - INTERVAL 365 DAY)
        AS "lifecycle.churned",
    count(*) FILTER (WHERE mean_gap_days_365d <= 31) AS "monthly_buyers",
    count(*) FILTER (WHERE mean_gap_days_365d > 31 AND mean_gap_days_365d <= 92)
        AS "quarterly_buyers",
    count(*) FILTER (WHERE mean_gap_days_365d > 92 AND mean_gap_days_365d <= 183)
        AS "half_yearly_buyers",
    count(*) FILTER (WHERE spend_365d_top_percent <= 10) AS "vip_pyramid.supreme",
    count(*) FILTER (WHERE spend_365d_top_percent > 10 AND spend_365d_top_percent <= 25)
        AS "vip_pyramid.vip",
    count(*) FILTER (WHERE spend_365d_top_percent > 25 AND spend_365d_top_percent <= 50)
        AS "vip_pyramid.senior",
    count(*) FILTER (WHERE spend_365d_top_percent > 50) AS "vip_pyramid.regular",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days <= median_recency
                     AND paid_orders > median_orders AND spend > median_spend)
        AS "rfm_8.important_value",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days <= median_recency
                     AND paid_orders <= median_orders AND spend > median_spend)
        AS "rfm_8.important_develop",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days > median_recency
                     AND paid_orders > median_orders AND spend > median_spend)
        AS "rfm_8.important_keep",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days > median_recency
                     AND paid_orders <= median_orders AND spend > median_spend)
        AS "rfm_8.important_retain",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days <= median_recency
                     AND paid_orders > median_orders AND spend <= median_spend)
        AS "rfm_8.general_value",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days <= median_recency
                     AND paid_orders <= median_orders AND spend <= median_spend)
        AS "rfm_8.general_develop",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days > median_recency
                     AND paid_orders > median_orders AND spend <= median_spend)
        AS "rfm_8.general_keep",
    count(*) FILTER (WHERE paid_orders > 0 AND recency_days > median_recency
                     AND paid_orders <= median_orders AND spend <= median_spend)
        AS "rfm_8.general_retain",
    count(*) FILTER (WHERE paid_orders BETWEEN 1 AND 4) AS "light_buyers",
    count(*) FILTER (WHERE paid_orders >= 5) AS "heavy_buyers",
    count(*) FILTER (WHERE items_bought > 0 AND new_arrival_items >= 0.5 * items_bought)
        AS "new_arrival_fans",
    count(*) FILTER (WHERE paid_orders > 0 AND promo_orders >= 0.5 * paid_orders)
        AS "price_sensitive",
    count(*) FILTER (WHERE promotion_periods >= 2) AS "campaign_buyers",
    count(*) FILTER (WHERE promotion_periods >= 2 AND aov_top_percent <= 20) AS "high_end",
    count(*) FILTER (WHERE top_category_viewed_share >= 0.4
                     OR (views_90d = 0 AND top_category_bought_share >= 0.4))
        AS "category_fans",
    count(*) FILTER (WHERE price_position_365d >= 0.67) AS "price_band.high",
    count(*) FILTER (WHERE price_position_365d >= 0.33 AND price_position_365d < 0.67)
        AS "price_band.mid",
    count(*) FILTER (WHERE price_position_365d < 0.33) AS "price_band.low",
    count(*) FILTER (WHERE paid_orders > 0 AND holiday_orders >= 0.5 * paid_orders)
        AS "holiday_shoppers",
    count(*) FILTER (WHERE intent_top_percent <= 20) AS "intent.strong",
    count(*) FILTER (WHERE intent_top_percent > 20 AND intent_top_percent <= 60)
        AS "intent.medium",
    count(*) FILTER (WHERE intent_top_percent > 60) AS "intent.weak",
    count(*) FILTER (WHERE intent_top_percent <= 20) AS "intent_strong",
    count(*) FILTER (WHERE intent_top_percent > 20 AND intent_top_percent <= 60)
        AS "intent_medium",
    count(*) FILTER (WHERE intent_top_percent > 60) AS "intent_weak",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 30 DAY) AS "winback_1m",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 90 DAY) AS "winback_3m",
    count(*) FILTER (WHERE last_paid_at <= $as_of - INTERVAL 180 DAY) AS "winback_6m",
    count(*) FILTER (WHERE member_level = 'V0') AS "member_v0",
    count(*) FILTER (WHERE member_level IN ('V1', 'V2', 'V3')) AS "member_v1_v3",
    count(*) FILTER (WHERE member_level IN ('V4', 'V5', 'V6')) AS "member_v4_plus",
    count(*) FILTER (WHERE member_level = 'V0') AS "member_tier.v0",
    count(*) FILTER (WHERE member_level IN ('V1', 'V2', 'V3')) AS "member_tier.v1_v3",
    count(*) FILTER (WHERE member_level IN ('V4', 'V5', 'V6')) AS "member_tier.v4_plus"
FROM hand_full;
