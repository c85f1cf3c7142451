"""Every metric by name, with its spec class and its definition in Chinese and English.

``kequn metrics list`` prints this; the names are the CLI sub-commands and the
:class:`~kequn.metrics.Metrics` methods.
"""

from __future__ import annotations

from dataclasses import dataclass

from kequn.metrics._base import MetricSpec
from kequn.metrics.activity import ActiveDaysSpec, ActivitySpec
from kequn.metrics.attributes import AttributesSpec
from kequn.metrics.channels import ChannelSpec
from kequn.metrics.conversion import ConversionSpec, NewReturningSpec
from kequn.metrics.decomposition import DecompositionSpec
from kequn.metrics.funnels import FunnelSpec
from kequn.metrics.groups import GroupsSpec
from kequn.metrics.retention import DayRetentionSpec, RepurchaseRetentionSpec, RetentionSpec
from kequn.metrics.rfm import RFMSpec


@dataclass(frozen=True)
class MetricInfo:
    """A metric's name, spec class, SPEC section and bilingual title and definition."""

    name: str
    spec: type[MetricSpec]
    section: str
    title_zh: str
    title_en: str
    definition_zh: str
    definition_en: str


_INFOS = (
    MetricInfo("attributes", AttributesSpec, "§2.1", "用户属性", "User attributes",
               "各属性（性别、年龄段、省份、城市等级、会员等级、来源渠道、设备）的客户分布，"
               "含未知占比；年龄段按截至时间的生日计算。",
               "Customers per value of each attribute (gender, age band, province, city tier, "
               "member level, source channel, device), with the share unknown; age bands from "
               "birthday at as_of."),
    MetricInfo("groups", GroupsSpec, "§2.2", "用户分群", "User groups",
               "用户来源、新增/累计注册用户、下单用户与下单转化率（下单用户/活跃用户）、当期新增"
               "购买用户、累计购买用户、老用户重复购买、各环节流失用户、RFM 初级/成长/成熟用户数。",
               "Source channel; new and cumulative registered users; ordering users and order "
               "conversion (ordering / active); new buyers in the window, cumulative buyers, "
               "returning buyers; drop-outs by stage; RFM stages junior / growing / mature "
               "(1 / 2–4 / 5+ paid orders)."),
    MetricInfo("activity", ActivitySpec, "§2.3", "活跃", "Activity",
               "每期（日/周/月，即 DAU/WAU/MAU）访问、购买、登录、加购、评论及任意行为的"
               "活跃用户数，活跃率 = 活跃用户 / 期末累计注册用户。",
               "Active users per period (day/week/month = DAU/WAU/MAU) for visit, purchase, "
               "login, cart, review and any action; active rate = active users / cumulative "
               "registered customers at the period's end."),
    MetricInfo("active_days", ActiveDaysSpec, "§2.3", "活跃天数", "Active days",
               "窗口内每个用户的活跃天数分布。",
               "Distribution of the number of distinct active days per customer in the window."),
    MetricInfo("retention", RetentionSpec, "§2.4", "留存矩阵", "Retention matrix",
               "同期群留存：按首次（或任意）行为所在的日/周/月分组，第 N 列为第 N 期活跃"
               "（或 N 期内曾回访）的人数与比例；行为可为访问、登录、购买或任意行为。",
               "Cohort retention: cohorts by the day/week/month of the first (or any) action; "
               "column N counts customers active in period N (or within periods 1..N); "
               "actions: visit, login, purchase or any."),
    MetricInfo("day_retention", DayRetentionSpec, "§2.4", "次日/7日/30日留存",
               "Next-day, 7-day, 30-day retention",
               "每日新用户在第 1、7、30 天仍活跃的比例（窗口内合并计算）。",
               "Share of each day's new customers active again on day 1, 7 and 30, pooled "
               "over the window."),
    MetricInfo("repurchase_retention", RepurchaseRetentionSpec, "§2.4", "店铺复购留存率",
               "Store repurchase retention",
               "某日前 6 个月购买过的客户中，在其后 6 个月再次购买的比例（淘宝整体约 30%）；"
               "可按会员等级 V0 / V1–V3 / V4+ 拆分（--by member_band）。",
               "Of customers who paid in the 6 months before a date, the share who paid again "
               "in the 6 months after it (≈30% on Taobao); split by member level V0 / V1–V3 / "
               "V4+ with --by member_band."),
    MetricInfo("funnel", FunnelSpec, "§2.8", "转化漏斗", "Funnel",
               "按顺序的行为步骤（默认 访问→浏览→加购→下单→支付），在转化窗口内完成；"
               "宽松或严格顺序；每步人数、步骤转化率、整体转化率与流失人数。",
               "Ordered steps (default visit → view → cart → order → pay) completed within "
               "the conversion window, loose or strict order; customers, step and overall "
               "conversion and drop-outs per step."),
    MetricInfo("conversion", ConversionSpec, "§2.5", "转化", "Conversion",
               "访客数、下单用户、支付买家数、支付金额、支付转化率、ARPU、客单价（ARPPU，每买家）、"
               "笔单价（AOV，每单）、首购用户、复购用户与复购率（当期支付 2 次及以上）。",
               "Visitors, ordering users, paying users, revenue, pay rate, ARPU, ARPPU (客单价, "
               "per buyer), AOV (笔单价, per order), first-purchase users, repurchase users and "
               "rate (two or more paid orders in the period)."),
    MetricInfo("new_returning", NewReturningSpec, "§2.6", "新老客", "New vs returning",
               "新客数、获客成本（营销费用/新客数）、新客客单价；老客的购买频次、距上次购买天数、"
               "消费金额、重复购买率；老客在买家数与销售额中的占比。",
               "New customers, acquisition cost (marketing cost / new customers), new-customer "
               "AOV; returning customers' frequency, recency, monetary value and repeat-purchase "
               "rate; returning customers' share of buyers and of revenue."),
    MetricInfo("decomposition", DecompositionSpec, "§2.7", "销售额拆解", "Sales decomposition",
               "销售额 = 访客数 × 转化率 × 客单价；与上一期相比，各因素对销售额变化的贡献"
               "（LMDI 对数分解，各部分之和等于变化额）。",
               "Revenue = visitors × conversion × revenue per buyer; each factor's share of the "
               "change from the previous period (LMDI log decomposition; the parts sum to the "
               "change)."),
    MetricInfo("channels", ChannelSpec, "§2.8", "渠道象限", "Channel quadrant",
               "各渠道的流量、漏斗各步转化率与整体转化率；按流量与转化率的中位数分为四个象限，"
               "并给出每个象限的运营建议。",
               "Per channel: traffic, funnel step conversion and overall conversion; the "
               "quadrant of traffic × conversion split at the medians, with advice for each."),
    MetricInfo("rfm", RFMSpec, "§3 rfm_8", "RFM 客户分类", "RFM classes",
               "按最近购买时间 R、购买频次 F、消费金额 M 打分（1–5），并按高/低分为重要价值、"
               "重要发展、重要保持、重要挽留、一般价值、一般发展、一般保持、一般挽留八类，"
               "给出人数与销售额。",
               "Recency, frequency and monetary scores (1–5) and the 8 classes of R, F, M high "
               "or low (important value / develop / keep / win back, general ...), with "
               "customers and revenue."),
)

METRICS: dict[str, MetricInfo] = {info.name: info for info in _INFOS}
