"""The dashboard's words in Chinese and English, and which language a request gets.

Chinese labels use the seeds' terms (客户分群, 定向运营, 回流优惠券, 客单价, 复购率, ...).
The language is ``?lang=`` (remembered in a cookie), else the cookie, else the browser's
Accept-Language; Chinese when nothing says otherwise.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANG_COOKIE = "kq_lang"

LABELS: dict[str, tuple[str, str]] = {
    # navigation
    "brand": ("客群", "kequn"),
    "nav_overview": ("概览", "Overview"),
    "nav_groups": ("客户分群", "Groups"),
    "nav_builder": ("圈选人群", "Group builder"),
    "nav_rfm": ("RFM 分类", "RFM grid"),
    "nav_retention": ("留存", "Retention"),
    "nav_funnel": ("转化漏斗", "Funnel"),
    "nav_channels": ("渠道象限", "Channels"),
    "nav_predictions": ("预测", "Predictions"),
    "nav_campaigns": ("定向运营", "Campaigns"),
    "nav_load": ("导入数据", "Load data"),
    "as_of": ("截至", "As of"),
    "signed_in_as": ("当前身份", "Signed in as"),
    "sign_out": ("退出", "Sign out"),
    "role_viewer": ("只读", "viewer"),
    "role_analyst": ("分析师", "analyst"),
    "role_admin": ("管理员", "admin"),
    "computing": ("计算中…", "Computing…"),
    "no_data": ("暂无数据：先导入数据或运行 kequn demo",
                "No data yet: load files or run kequn demo"),
    "error": ("出错了", "Something went wrong"),
    "back": ("返回", "Back"),
    # overview
    "overview_title": ("经营概览", "Overview"),
    "period": ("周期", "Period"),
    "period_day": ("日", "Day"),
    "period_week": ("周", "Week"),
    "period_month": ("月", "Month"),
    "vs_previous": ("对比上一期", "vs previous period"),
    "previous": ("上期", "previous"),
    "current": ("本期", "current"),
    "chart_previous": ("上期", "Previous"),
    "chart_current": ("本期", "This period"),
    "replace": ("覆盖同名人群", "Replace if it exists"),
    "share_of_customers": ("占全部客户", "of all customers"),
    "kpi_revenue": ("销售额", "Revenue"),
    "kpi_visitors": ("访客数", "Visitors"),
    "kpi_buyers": ("支付买家数", "Paying buyers"),
    "kpi_conversion": ("支付转化率", "Conversion"),
    "kpi_arppu": ("客单价", "Revenue per buyer"),
    "kpi_aov": ("笔单价", "Average order value"),
    "kpi_paid_orders": ("支付订单数", "Paid orders"),
    "kpi_new_customers": ("新客数", "New customers"),
    "kpi_returning_share": ("老客占比", "Returning share"),
    "kpi_repurchase_rate": ("复购率", "Repurchase rate"),
    "decomposition": ("销售额拆解：流量 × 转化率 × 客单价", "Revenue = visitors × conversion × "
                      "revenue per buyer"),
    "effect_visitors": ("流量", "Visitors"),
    "effect_conversion": ("转化率", "Conversion"),
    "effect_arppu": ("客单价", "Per buyer"),
    "main_driver": ("主要因素", "Main driver"),
    "trend": ("趋势", "Trend"),
    "report": ("运营报告", "Report"),
    "new": ("新客", "New"),
    "returning": ("老客", "Returning"),
    # groups
    "groups_title": ("客户分群", "Customer groups"),
    "groups_intro": ("内置人群来自卖家文章（兴趣人群、新客户人群、复购人群……），"
                     "也可以圈选自己的人群。",
                     "Built-in groups come from the seller articles (interested, new, due to "
                     "buy again …); build your own with the builder."),
    "group": ("人群", "Group"),
    "size": ("人数", "Size"),
    "change_30d": ("较30天前", "vs 30 days ago"),
    "origin_builtin": ("内置", "built-in"),
    "origin_saved": ("自建", "saved"),
    "open_builder": ("在圈选器中打开", "Open in builder"),
    "new_group": ("圈选新人群", "Build a new group"),
    "labels": ("标签", "Labels"),
    # builder
    "builder_title": ("圈选人群", "Group builder"),
    "builder_help": ("输入规则，或点击下方条件添加；人数随输入实时更新。",
                     "Type a rule, or click conditions below to add them; the count updates "
                     "as you type."),
    "rule": ("规则", "Rule"),
    "conditions": ("常用条件", "Conditions"),
    "cond_attributes": ("属性", "Attributes"),
    "cond_behaviour": ("行为", "Behaviour"),
    "cond_value": ("消费", "Spend"),
    "cond_groups": ("人群", "Groups"),
    "count": ("人数", "Customers"),
    "customers_unit": ("人", "customers"),
    "syntax_error": ("规则有误", "The rule has an error"),
    "line": ("行", "line"),
    "column": ("列", "column"),
    "expected": ("应为", "expected"),
    "did_you_mean": ("是不是", "did you mean"),
    "members": ("成员", "Members"),
    "show_members": ("查看成员", "Show members"),
    "explain": ("解释", "Explain"),
    "explain_help": ("输入客户编号，查看每个条件是否满足",
                     "A customer id: see which conditions hold"),
    "customer_id": ("客户编号", "Customer id"),
    "in_group": ("在人群中", "in the group"),
    "not_in_group": ("不在人群中", "not in the group"),
    "value": ("值", "value"),
    "save_group": ("保存人群", "Save group"),
    "group_id": ("人群编号", "Group id"),
    "name_zh": ("中文名", "Chinese name"),
    "name_en": ("英文名", "English name"),
    "saved": ("已保存", "Saved"),
    "create_campaign_for": ("为该人群创建定向运营", "Create a campaign for this group"),
    "masked_note": ("个人信息已脱敏", "Personal data masked"),
    "page": ("第", "page"),
    "next": ("下一页", "Next"),
    "prev": ("上一页", "Previous"),
    "of": ("共", "of"),
    "needs_role": ("需要更高权限", "Needs a higher role"),
    # rfm
    "rfm_title": ("RFM 客户分类", "RFM classes"),
    "rfm_intro": ("按最近购买时间 R、购买频次 F、消费金额 M 相对中位数的高低，把买家分为八类。",
                  "Buyers in eight classes by recency R, frequency F and monetary value M, each "
                  "high or low against the median."),
    "customers": ("客户数", "Customers"),
    "revenue": ("销售额", "Revenue"),
    "customer_share": ("客户占比", "Customer share"),
    "revenue_share": ("销售额占比", "Revenue share"),
    "avg_recency": ("平均距今天数", "Avg days since"),
    "avg_frequency": ("平均频次", "Avg orders"),
    "avg_monetary": ("平均金额", "Avg spend"),
    # retention
    "retention_title": ("留存热力图", "Retention heat map"),
    "retention_intro": ("行为同期群：第 N 列为首次行为后第 N 期仍活跃的比例。",
                        "Cohorts by first action; column N is the share active N periods later."),
    "action": ("行为", "Action"),
    "action_any": ("任意行为", "any action"),
    "action_visit": ("访问", "visit"),
    "action_login": ("登录", "login"),
    "action_purchase": ("购买", "purchase"),
    "mode": ("口径", "Mode"),
    "mode_in": ("第 N 期活跃", "active in period N"),
    "mode_within": ("N 期内回访", "back within N periods"),
    "cohort": ("同期群", "Cohort"),
    "apply": ("查看", "Apply"),
    # funnel
    "funnel_title": ("转化漏斗", "Conversion funnel"),
    "funnel_intro": ("访问 → 浏览 → 加购 → 下单 → 支付，7 天内按顺序完成。",
                     "Visit → view → cart → order → pay, in order within 7 days."),
    "step": ("步骤", "Step"),
    "step_conversion": ("步骤转化率", "Step conversion"),
    "overall_conversion": ("整体转化率", "Overall"),
    "dropped": ("流失人数", "Dropped"),
    "ev_visit": ("访问", "Visit"), "ev_view": ("浏览商品", "View"), "ev_cart": ("加购", "Cart"),
    "ev_order": ("下单", "Order"), "ev_pay": ("支付", "Pay"),
    "ev_favorite": ("收藏", "Favourite"),
    # channels
    "channels_title": ("渠道象限", "Channel quadrant"),
    "channels_intro": ("按流量与转化率的中位数把渠道分为四个象限，每个象限给出运营建议。",
                       "Channels split at the medians of traffic and conversion, with advice "
                       "for each quadrant."),
    "channel": ("渠道", "Channel"),
    "traffic": ("流量", "Traffic"),
    "conversion": ("转化率", "Conversion"),
    "quadrant": ("象限", "Quadrant"),
    "advice": ("建议", "Advice"),
    "median": ("中位数", "median"),
    # predictions
    "predictions_title": ("复购与价值预测", "Repeat purchase and value predictions"),
    "predictions_intro": ("BG/NBD 预测每位买家未来的购买次数和仍活跃的概率，Gamma-Gamma 预测"
                          "客单价，合成客户终身价值。",
                          "BG/NBD predicts each buyer's future orders and chance of being "
                          "alive; Gamma-Gamma their spend per order; together the CLV."),
    "no_predictions": ("还没有预测：点击“拟合模型”。", "No predictions yet: fit the models."),
    "fit_models": ("拟合模型", "Fit the models"),
    "model": ("模型", "Model"),
    "churn_risk": ("流失风险", "Churn risk"),
    "risk_low": ("低", "low"), "risk_medium": ("中", "medium"), "risk_high": ("高", "high"),
    "expected_orders": ("预计订单", "Expected orders"),
    "p_alive": ("活跃概率", "P(alive)"),
    "expected_spend": ("预计客单价", "Expected spend/order"),
    "clv": ("客户终身价值", "CLV"),
    "next_purchase": ("预计下次购买", "Next purchase"),
    "top_customers": ("价值最高的客户", "Most valuable customers"),
    "repeat_buyers": ("复购客户", "Repeat buyers"),
    "horizon": ("预测天数", "Horizon days"),
    # campaigns
    "campaigns_title": ("定向运营计划", "Campaigns"),
    "campaigns_intro": ("向人群发放回流优惠券或消息，保留随机对照组，衡量真实增量。",
                        "Send a win-back coupon or message to a group, keep a random holdout, "
                        "measure the real uplift."),
    "new_campaign": ("新建运营计划", "New campaign"),
    "campaign_name": ("计划名称", "Name"),
    "target_group": ("目标人群", "Target group"),
    "coupon": ("优惠券", "Coupon"),
    "threshold": ("满（门槛）", "Threshold"),
    "discount": ("减（面额）", "Discount"),
    "validity_days": ("有效天数", "Valid days"),
    "holdout": ("对照组比例", "Holdout"),
    "status": ("状态", "Status"),
    "sent": ("已发送", "Sent"),
    "create": ("创建", "Create"),
    "created": ("已创建", "Created"),
    "preview": ("预览", "Preview"),
    "send": ("发送", "Send"),
    "send_confirm": ("确定发送？每位客户只会收到一次。", "Send now? Each customer gets it once."),
    "results": ("效果", "Results"),
    "audience": ("目标人群", "Audience"),
    "to_send": ("将发送", "To send"),
    "removed_by": ("被规则移除", "Removed by rule"),
    "warnings": ("注意", "Warnings"),
    "sample_messages": ("消息示例", "Sample messages"),
    "target": ("发送组", "Target"),
    "control": ("对照组", "Holdout"),
    "uplift": ("提升", "Uplift"),
    "ci95": ("95% 置信区间", "95% interval"),
    "prob_positive": ("正向效果概率", "P(positive)"),
    "incremental_revenue": ("增量销售额", "Incremental revenue"),
    "incremental_margin": ("增量毛利", "Incremental margin"),
    "roi": ("投资回报率", "ROI"),
    "redemption": ("核销率", "Redemption"),
    "coupon_cost": ("优惠券成本", "Coupon cost"),
    "window_open": ("归因窗口未结束，数字仍会变化", "The attribution window is still open"),
    "no_campaigns": ("还没有运营计划。", "No campaigns yet."),
    "status_ready": ("待发送", "ready"), "status_scheduled": ("已排期", "scheduled"),
    "status_sending": ("发送中", "sending"), "status_sent": ("已发送", "sent"),
    "status_cancelled": ("已取消", "cancelled"),
    "channel_export": ("导出名单（海报/推送）", "List export (poster/push)"),
    "channel_email": ("邮件", "Email"), "channel_sms": ("短信", "SMS"),
    "channel_webhook": ("Webhook", "Webhook"),
    "conversion_rate": ("转化率", "Conversion"),
    "revenue_per_customer": ("人均销售额", "Revenue per customer"),
    # load
    "load_title": ("导入数据", "Load data"),
    "load_intro": ("上传 CSV / TSV / Parquet / JSON Lines / Excel 文件；不合规的行进入隔离区，"
                   "重复导入不会重复计数。",
                   "Upload CSV / TSV / Parquet / JSON Lines / Excel; rows breaking a rule go "
                   "to the quarantine, and loading a file again changes nothing."),
    "table": ("表", "Table"),
    "file": ("文件", "File"),
    "preset": ("字段映射预设", "Column mapping preset"),
    "preset_none": ("标准字段名", "canonical column names"),
    "upload": ("上传并导入", "Upload and load"),
    "rows": ("行数", "Rows"),
    "from": ("起", "From"),
    "to": ("止", "To"),
    "quarantined": ("隔离", "Quarantined"),
    "read": ("读取", "Read"),
    "stored": ("入库", "Stored"),
    "inserted": ("新增", "New"),
    "unchanged": ("未变", "Unchanged"),
    "updated": ("更新", "Updated"),
    "customers_added": ("按编号新建客户", "Customers added from ids"),
    "reasons": ("主要原因", "Main reasons"),
    "quarantined_rows": ("隔离的行", "Quarantined rows"),
    "line_no": ("行号", "Line"),
    "column_name": ("字段", "Column"),
    "reason": ("原因", "Reason"),
    "raw": ("原始内容", "Raw row"),
    "tables_now": ("工作区数据", "What the workspace holds"),
    "recent_loads": ("最近导入", "Recent loads"),
    "loaded": ("导入完成", "Loaded"),
    # login
    "login_title": ("登录", "Sign in"),
    "token": ("访问令牌", "Access token"),
    "login_help": ("向管理员索取令牌（kequn token create --role analyst）。",
                   "Ask an admin for a token (kequn token create --role analyst)."),
    "sign_in": ("登录", "Sign in"),
    "bad_token": ("令牌无效", "That token is not valid"),
}

COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "customer_id": ("客户编号", "Customer"), "label": ("标签", "Label"), "name": ("姓名", "Name"),
    "phone": ("手机", "Phone"), "email": ("邮箱", "Email"), "gender": ("性别", "Gender"),
    "city": ("城市", "City"), "member_level": ("会员等级", "Member level"),
    "source_channel": ("来源渠道", "Source channel"),
}

TABLE_LABELS: dict[str, tuple[str, str]] = {
    "customers": ("客户", "customers"), "products": ("商品", "products"),
    "orders": ("订单", "orders"), "order_items": ("订单明细", "order items"),
    "events": ("行为", "events"), "marketing_costs": ("营销费用", "marketing costs"),
}


def t(key: str, lang: Lang) -> str:
    """The label ``key`` in ``lang`` (the key itself when it is missing, so a gap shows)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def from_accept_language(header: str | None) -> Lang:
    """The first of zh / en the browser asks for, by q-value; zh when neither appears."""
    best: tuple[float, Lang] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("zh", "en") and q > 0:
            score = q - position * 1e-6  # earlier wins among equal q
            if best is None or score > best[0]:
                best = (score, primary)  # type: ignore[assignment]
    return best[1] if best else "zh"


def choose(query: str | None, cookie: str | None, accept: str | None) -> Lang:
    """The language of a request (see the module docstring)."""
    for value in (query, cookie):
        if value in ("zh", "en"):
            return value  # type: ignore[return-value]
    return from_accept_language(accept)
