"""Reference values of the demo shop: channels, places, people, categories and their weights.

Plain data, kept apart from the simulation so the shop's make-up can be read (and changed) in
one place. The shop is a Taobao/Tmall lifestyle store (个护、美妆、宠物、日用); labels are the
ones a seller sees in the back office (seeds 000, 003: 自然搜索 / 活动 / 渠道 traffic).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    """A traffic channel: its share of visits, how well a visit converts and what it costs.

    ``conversion`` is relative (it weights which channel a purchase session came from), so the
    channel quadrant of SPEC §2.8 (traffic x conversion, split at the medians) has a channel in
    each corner. ``cost_per_signup`` is the marketing spend per registered customer (0 = free).
    """

    name: str
    traffic: float
    conversion: float
    signup_share: float
    buy_probability: float
    cost_per_signup: float


# traffic high/low (median 15%) x conversion high/low (median 2.75%): every quadrant is non-empty.
CHANNELS: tuple[Channel, ...] = (
    Channel("自然搜索", traffic=0.35, conversion=0.035, signup_share=0.34, buy_probability=0.62,
            cost_per_signup=0.0),
    Channel("钻展", traffic=0.20, conversion=0.010, signup_share=0.16, buy_probability=0.38,
            cost_per_signup=34.0),
    Channel("内容", traffic=0.18, conversion=0.015, signup_share=0.15, buy_probability=0.45,
            cost_per_signup=16.0),
    Channel("直通车", traffic=0.12, conversion=0.020, signup_share=0.15, buy_probability=0.55,
            cost_per_signup=46.0),
    Channel("淘宝客", traffic=0.08, conversion=0.040, signup_share=0.11, buy_probability=0.66,
            cost_per_signup=22.0),
    Channel("聚划算", traffic=0.07, conversion=0.060, signup_share=0.09, buy_probability=0.72,
            cost_per_signup=28.0),
)
JUHUASUAN = 5  # index of 聚划算 in CHANNELS: its traffic follows the 聚划算 days

# Member level (淘宝会员等级): most buyers are V0-V2 (seed 002); higher levels buy more often and
# stay longer, so retention rises with the level.
LEVEL_SHARES = (0.30, 0.25, 0.20, 0.11, 0.07, 0.045, 0.025)
LEVEL_RATE = (0.55, 0.8, 1.0, 1.35, 1.8, 2.3, 2.9)
LEVEL_DROPOUT = (0.5, 0.4, 0.33, 0.27, 0.21, 0.16, 0.12)

# (province, city, city_tier 1-5 = 一线 / 新一线 / 二线 / 三线 / 四线及以下, weight)
CITIES: tuple[tuple[str, str, int, float], ...] = (
    ("上海", "上海", 1, 5.0), ("北京", "北京", 1, 4.5), ("广东", "广州", 1, 4.0),
    ("广东", "深圳", 1, 4.2), ("浙江", "杭州", 2, 4.0), ("四川", "成都", 2, 3.6),
    ("湖北", "武汉", 2, 2.8), ("江苏", "南京", 2, 2.6), ("江苏", "苏州", 2, 2.8),
    ("重庆", "重庆", 2, 2.6), ("陕西", "西安", 2, 2.2), ("湖南", "长沙", 2, 2.1),
    ("天津", "天津", 2, 1.8), ("河南", "郑州", 2, 1.9), ("广东", "东莞", 2, 1.8),
    ("山东", "青岛", 2, 1.6), ("辽宁", "沈阳", 3, 1.2), ("浙江", "宁波", 2, 1.6),
    ("云南", "昆明", 3, 1.2), ("福建", "厦门", 3, 1.2), ("福建", "福州", 3, 1.1),
    ("安徽", "合肥", 2, 1.4), ("山东", "济南", 3, 1.1), ("江苏", "无锡", 3, 1.1),
    ("广东", "佛山", 2, 1.3), ("黑龙江", "哈尔滨", 3, 0.9), ("吉林", "长春", 3, 0.8),
    ("江西", "南昌", 3, 0.9), ("广西", "南宁", 3, 0.9), ("河北", "石家庄", 3, 0.9),
    ("山西", "太原", 3, 0.7), ("贵州", "贵阳", 3, 0.7), ("浙江", "温州", 3, 1.0),
    ("浙江", "金华", 3, 0.9), ("江苏", "徐州", 3, 0.8), ("广东", "惠州", 3, 0.7),
    ("浙江", "绍兴", 4, 0.6), ("江苏", "扬州", 4, 0.5), ("山东", "潍坊", 4, 0.6),
    ("河南", "洛阳", 4, 0.5), ("湖北", "宜昌", 4, 0.4), ("湖南", "岳阳", 4, 0.4),
    ("四川", "绵阳", 4, 0.4), ("福建", "泉州", 3, 0.8), ("安徽", "芜湖", 4, 0.4),
    ("江西", "赣州", 4, 0.5), ("广西", "桂林", 4, 0.4), ("河北", "保定", 4, 0.5),
    ("内蒙古", "呼和浩特", 4, 0.3), ("新疆", "乌鲁木齐", 4, 0.3), ("甘肃", "兰州", 4, 0.4),
    ("海南", "海口", 4, 0.3), ("宁夏", "银川", 5, 0.2), ("青海", "西宁", 5, 0.15),
    ("河南", "周口", 5, 0.4), ("安徽", "阜阳", 5, 0.4), ("山东", "菏泽", 5, 0.35),
    ("湖南", "邵阳", 5, 0.3), ("四川", "南充", 5, 0.3), ("广东", "湛江", 5, 0.35),
    ("云南", "曲靖", 5, 0.25), ("贵州", "遵义", 5, 0.3), ("西藏", "拉萨", 5, 0.1),
)
DISTRICTS = ("东城区", "西湖区", "高新区", "朝阳区", "天河区", "滨江区", "开发区", "新城区",
             "经开区", "南山区", "江北区", "城关区")
STREETS = ("人民路", "解放路", "建设路", "中山路", "文一路", "长江路", "和平路", "新华路",
           "科技路", "滨河路", "学府路", "花园路")

GENDERS = ("女", "男")
GENDER_WEIGHTS = (0.68, 0.32)
DEVICES = ("iPhone", "Android", "PC", "iPad")
DEVICE_WEIGHTS = (0.42, 0.46, 0.08, 0.04)
MARITAL = ("未婚", "已婚")
OCCUPATIONS = ("白领", "学生", "自由职业", "个体经营", "公务员", "教师", "医护", "工人")
OCCUPATION_WEIGHTS = (0.34, 0.16, 0.12, 0.10, 0.07, 0.08, 0.06, 0.07)
INDUSTRIES = ("互联网", "教育", "金融", "制造业", "医疗", "零售", "政府机关", "服务业")
EDUCATION = ("高中及以下", "大专", "本科", "硕士及以上")
EDUCATION_WEIGHTS = (0.18, 0.30, 0.42, 0.10)
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
            "胡", "郭", "何", "林", "罗", "高")
GIVEN_NAMES = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰",
               "娟", "涛", "明", "超", "秀英", "婷婷", "雪", "晨", "欣怡", "子涵", "梓萱",
               "浩然", "宇轩", "思雨", "佳琪", "一诺", "雨桐")
PHONE_PREFIXES = ("138", "139", "137", "136", "135", "150", "151", "152", "158", "159", "182",
                  "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153",
                  "180", "189", "177", "199", "166", "173", "176", "198")
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com")
EMAIL_WEIGHTS = (0.48, 0.24, 0.10, 0.06, 0.06, 0.06)

# Share of customers whose attribute is unknown (SPEC §2.1 "share unknown").
MISSING = {
    "gender": 0.07, "birthday": 0.35, "province": 0.04, "city_tier": 0.04,
    "device": 0.02, "marital_status": 0.62, "has_children": 0.66, "occupation": 0.71,
    "industry": 0.74, "education": 0.69, "phone": 0.12, "email": 0.55, "address": 0.18,
    "name": 0.10,
}
OPT_OUT_SHARE = 0.04


@dataclass(frozen=True)
class Category:
    """A product category: how popular it is, its price range and whether it is used up.

    A consumable category has repurchase cycles (days); its staple products are rebought on
    that cycle (SPEC §3 ``repurchase_due``). ``standard`` is 标品 (a branded standard good).
    """

    name: str
    weight: float
    price: float
    standard: bool
    cycles: tuple[int, ...]
    nouns: tuple[str, ...]
    new_share: float


CATEGORIES: tuple[Category, ...] = (
    Category("护肤", 1.6, 159.0, True, (60, 90), ("精华液", "面霜", "爽肤水", "防晒霜",
             "面膜", "眼霜", "洁面乳", "乳液"), 0.25),
    Category("彩妆", 1.1, 99.0, True, (), ("口红", "粉底液", "眼影盘", "腮红", "睫毛膏",
             "气垫", "眉笔"), 0.45),
    Category("洗护", 1.4, 59.0, True, (30, 60), ("洗发水", "护发素", "沐浴露", "身体乳",
             "洗手液", "牙膏"), 0.15),
    Category("纸品", 1.0, 45.0, True, (30,), ("抽纸", "卷纸", "湿巾", "厨房纸"), 0.08),
    Category("宠物食品", 1.1, 129.0, True, (30,), ("猫粮", "狗粮", "冻干", "猫砂", "罐头"),
             0.12),
    Category("营养保健", 0.8, 188.0, True, (90,), ("维生素C", "钙片", "鱼油", "益生菌",
             "蛋白粉"), 0.12),
    Category("零食", 0.9, 39.0, True, (30,), ("坚果", "饼干", "果干", "咖啡", "花茶"), 0.3),
    Category("家居", 0.8, 89.0, False, (), ("收纳盒", "香薰", "抱枕", "浴巾", "拖鞋",
             "四件套"), 0.4),
    Category("服饰配件", 0.7, 119.0, False, (), ("帆布包", "围巾", "袜子", "发夹", "帽子",
             "睡衣"), 0.55),
)
BANDS = ("低价", "中价", "高价")
BAND_WEIGHTS = (0.38, 0.44, 0.18)
BAND_PRICE = (0.5, 1.0, 2.3)
BRANDS = ("简屿", "植语", "暖宅", "喵小馆", "森活", "如初", "拾光", "小白熊")
SPECS = ("经典款", "升级款", "家庭装", "旅行装", "礼盒装", "清爽型", "滋润型", "大容量",
         "限定款", "mini装")

# (value, threshold): 满 threshold 减 value, seed 001's 满减 coupons.
COUPONS: tuple[tuple[int, int], ...] = ((5, 49), (10, 99), (20, 159), (30, 199), (50, 299))
