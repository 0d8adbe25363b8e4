"""The demo data `omnishelf seed` loads: stores in Shanghai and Hangzhou, a small catalog of a
Chinese brand (tea drinks and groceries: Chinese display names with English beside them,
attributes such as 规格 and 温度, pictures), staff accounts and one kiosk per store. Plain data
only; infra/seed.py does the writing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domain.identity.model import StaffRole
from domain.locations.model import DAYS, LocationType, OpeningHours
from domain.locations.services import LocationDraft

TIMEZONE = "Asia/Shanghai"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "omnishelf-admin"
DEMO_PASSWORD = "omnishelf-demo"
GRAPHQL_URL = "http://127.0.0.1:8000/graphql"

# EAN-13 bodies are "692" (GS1 China) + a 4-digit demo company number + a 3-digit item
# number + a 2-digit variant number; the 13th digit is the GS1 check digit.
BARCODE_PREFIX = "6924021"


# --- locations ------------------------------------------------------------------------------


def daily(opens: str, closes: str) -> OpeningHours:
    """The same hours every day of the week."""
    return {day: [(opens, closes)] for day in DAYS}


def weekdays_weekends(weekday: tuple[str, str], weekend: tuple[str, str]) -> OpeningHours:
    return {day: [weekend if day in ("sat", "sun") else weekday] for day in DAYS}


def office_hours(opens: str, closes: str) -> OpeningHours:
    """Monday to Saturday; closed on Sunday."""
    return {day: [(opens, closes)] for day in DAYS if day != "sun"}


def _store(
    code: str,
    name: str,
    address: str,
    city: str,
    point: tuple[float, float],
    hours: OpeningHours,
    phone: str,
    *,
    pickup: bool = True,
    ships: bool = False,
) -> LocationDraft:
    return LocationDraft(
        code=code,
        name=name,
        type=LocationType.STORE,
        address=address,
        city=city,
        latitude=point[0],
        longitude=point[1],
        timezone=TIMEZONE,
        opening_hours=hours,
        pickup_enabled=pickup,
        ships_online=ships,
        phone=phone,
    )


STORES: tuple[LocationDraft, ...] = (
    _store(
        "SH-XJH",
        "omnishelf 徐家汇店 Xujiahui",
        "1 Hongqiao Road, Xuhui District (徐汇区虹桥路1号)",
        "Shanghai",
        (31.1956, 121.4372),
        daily("09:00", "22:00"),
        "021-6448 1001",
        ships=True,
    ),
    _store(
        "SH-JAS",
        "omnishelf 静安寺店 Jing'an Temple",
        "1699 Nanjing West Road, Jing'an District (静安区南京西路1699号)",
        "Shanghai",
        (31.2238, 121.4458),
        daily("10:00", "21:30"),
        "021-6288 1002",
    ),
    _store(
        "SH-LJZ",
        "omnishelf 陆家嘴店 Lujiazui",
        "501 Yincheng Middle Road, Pudong New Area (浦东新区银城中路501号)",
        "Shanghai",
        (31.2368, 121.5031),
        weekdays_weekends(("08:00", "22:00"), ("10:00", "21:00")),
        "021-5878 1003",
        pickup=False,
        ships=True,
    ),
    _store(
        "SH-WJC",
        "omnishelf 五角场店 Wujiaochang",
        "8 Songhu Road, Yangpu District (杨浦区淞沪路8号)",
        "Shanghai",
        (31.3012, 121.5146),
        daily("09:00", "22:00"),
        "021-6548 1004",
    ),
    _store(
        "SH-ZSP",
        "omnishelf 中山公园店 Zhongshan Park",
        "1018 Changning Road, Changning District (长宁区长宁路1018号)",
        "Shanghai",
        (31.2203, 121.4169),
        daily("10:00", "21:30"),
        "021-6211 1005",
    ),
    _store(
        "HZ-XH",
        "omnishelf 文三路店 Wensan Road",
        "398 Wensan Road, Xihu District (西湖区文三路398号)",
        "Hangzhou",
        (30.2789, 120.1335),
        daily("09:00", "22:00"),
        "0571-8815 2001",
    ),
    _store(
        "HZ-WL",
        "omnishelf 武林广场店 Wulin Square",
        "530 Yan'an Road, Gongshu District (拱墅区延安路530号)",
        "Hangzhou",
        (30.2741, 120.1634),
        daily("09:00", "22:00"),
        "0571-8706 2002",
        ships=True,
    ),
    _store(
        "HZ-QJ",
        "omnishelf 钱江新城店 Qianjiang New Town",
        "1366 Fuchun Road, Shangcheng District (上城区富春路1366号)",
        "Hangzhou",
        (30.2458, 120.2108),
        daily("10:00", "21:30"),
        "0571-8689 2003",
    ),
    _store(
        "HZ-BJ",
        "omnishelf 滨江店 Binjiang",
        "1 Jianghui Road, Binjiang District (滨江区江晖路1号)",
        "Hangzhou",
        (30.2083, 120.2118),
        weekdays_weekends(("09:00", "21:30"), ("09:00", "22:00")),
        "0571-8666 2004",
    ),
)

OTHER_LOCATIONS: tuple[LocationDraft, ...] = (
    LocationDraft(
        code="WH-KS",
        name="omnishelf 华东仓 East China DC (Kunshan)",
        type=LocationType.WAREHOUSE,
        address="88 Qianjin East Road, Kunshan Development Zone (昆山开发区前进东路88号)",
        city="Kunshan",
        latitude=31.3853,
        longitude=120.9812,
        timezone=TIMEZONE,
        opening_hours=office_hours("08:00", "18:00"),
        pickup_enabled=False,
        ships_online=True,
        phone="0512-5733 3001",
    ),
    LocationDraft(
        code="FW-SH-PD",
        name="omnishelf 浦东前置仓 Pudong Front Warehouse",
        type=LocationType.FRONT_WAREHOUSE,
        address="88 Keyuan Road, Zhangjiang, Pudong New Area (浦东新区张江科苑路88号)",
        city="Shanghai",
        latitude=31.2052,
        longitude=121.5903,
        timezone=TIMEZONE,
        opening_hours=daily("07:00", "23:00"),
        pickup_enabled=False,
        ships_online=True,
        phone="021-5080 3002",
    ),
    LocationDraft(
        code="PP-SH-HQ",
        name="omnishelf 虹桥自提点 Pickup Hongqiao Hub",
        type=LocationType.PICKUP_POINT,
        address="1500 Shengui Road, Minhang District (闵行区申贵路1500号), B1 locker bank",
        city="Shanghai",
        latitude=31.1947,
        longitude=121.3203,
        timezone=TIMEZONE,
        opening_hours=daily("07:00", "23:00"),
        pickup_enabled=True,
        ships_online=False,
    ),
)

LOCATIONS: tuple[LocationDraft, ...] = STORES + OTHER_LOCATIONS


# --- catalog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySeed:
    slug: str
    name: str


# The attributes a variant shows (规格: 500g), by the key `opt` takes them under.
ATTRIBUTE_NAMES = {
    "size": ("规格", "size"),
    "pack": ("包装", "pack"),
    "volume": ("容量", "volume"),
    "weight": ("净含量", "weight"),
    "flavour": ("口味", "flavour"),
    "filling": ("馅料", "filling"),
    "roast": ("烘焙度", "roast"),
    "spice": ("辣度", "spice"),
    "cocoa": ("可可含量", "cocoa"),
    "scent": ("香型", "scent"),
    "temperature": ("温度", "temperature"),
}


@dataclass(frozen=True)
class AttributeSeed:
    key: str  # of ATTRIBUTE_NAMES
    chinese: str
    english: str


@dataclass(frozen=True)
class OptionSeed:
    """One variant: its SKU suffix, price in fen, and attributes (which also name it)."""

    suffix: str
    price: int
    attributes: tuple[AttributeSeed, ...] = ()

    @property
    def chinese_label(self) -> str:
        return " ".join(a.chinese for a in self.attributes)

    @property
    def label(self) -> str:
        return " ".join(a.english for a in self.attributes)

    def attribute_pairs(self) -> tuple[tuple[str, str], ...]:
        """As the shop shows them: Chinese names and values (规格: 500g, 温度: 冰)."""
        return tuple((ATTRIBUTE_NAMES[a.key][0], a.chinese) for a in self.attributes)


@dataclass(frozen=True)
class MediaSeed:
    path: str  # under MEDIA_BASE_URL
    alt: str


# Demo pictures live under a reserved domain (RFC 2606): a front end shows its placeholder.
MEDIA_BASE_URL = "https://static.omnishelf.example/demo/products"


@dataclass(frozen=True)
class ProductSeed:
    item: int  # 3-digit item number inside the barcode; unique across the catalog
    category: str  # a CategorySeed slug
    sku: str  # SKU prefix; the variant codes are f"{sku}-{suffix}"
    name: str  # English
    chinese_name: str  # the display name: the shelf is a Chinese brand's
    blurb: str
    options: tuple[OptionSeed, ...]

    @property
    def slug(self) -> str:
        return self.sku.lower()

    @property
    def description(self) -> str:
        return f"{self.chinese_name}. {self.blurb}"

    @property
    def media(self) -> tuple[MediaSeed, ...]:
        """A main picture and a detail shot, with alt text in Chinese."""
        return (
            MediaSeed(f"{self.slug}/main.jpg", f"{self.chinese_name}商品主图"),
            MediaSeed(f"{self.slug}/detail.jpg", f"{self.chinese_name}细节图"),
        )

    def code(self, option: OptionSeed) -> str:
        return f"{self.sku}-{option.suffix}"

    def barcode(self, index: int) -> str:
        return ean13(f"{BARCODE_PREFIX}{self.item:03d}{index + 1:02d}")

    def variant_names(self, option: OptionSeed) -> tuple[str, str]:
        """(Chinese, English): 芒果多多 500ml 冰, Mango Juice 500ml iced."""
        return (
            f"{self.chinese_name} {option.chinese_label}".strip(),
            f"{self.name} {option.label}".strip(),
        )


def ean13(body: str) -> str:
    """Append the GS1 check digit to a 12-digit body."""
    if len(body) != 12 or not body.isdigit():
        raise ValueError(f"an EAN-13 body is 12 digits, got {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def opt(suffix: str, price: int, **attributes: str | tuple[str, str]) -> OptionSeed:
    """`size="500g"`: the same in both languages; `pack=("4个装", "4 apples")`: (Chinese,
    English)."""
    return OptionSeed(
        suffix,
        price,
        tuple(
            AttributeSeed(key, *((value, value) if isinstance(value, str) else value))
            for key, value in attributes.items()
        ),
    )


CATEGORIES: tuple[CategorySeed, ...] = (
    CategorySeed("tea-drinks", "现制茶饮 Tea Drinks"),
    CategorySeed("fresh-fruit", "新鲜水果 Fresh Fruit"),
    CategorySeed("dairy-eggs", "乳品蛋类 Dairy & Eggs"),
    CategorySeed("bakery", "烘焙面包 Bakery"),
    CategorySeed("coffee-tea", "咖啡茶叶 Coffee & Tea"),
    CategorySeed("snacks", "休闲零食 Snacks"),
    CategorySeed("home", "家居日用 Home & Household"),
)

ICED, ROOM = ("冰", "iced"), ("常温", "room temperature")

_TEA_DRINKS: tuple[ProductSeed, ...] = (
    ProductSeed(
        1,
        "tea-drinks",
        "TEA-MANGO",
        "Mango Juice",
        "芒果多多",
        "Fresh mango blended with jasmine green tea, made to order.",
        (
            opt("500ML-ICED", 1900, size="500ml", temperature=ICED),
            opt("700ML-ICED", 2300, size="700ml", temperature=ICED),
            opt("500ML-ROOM", 1900, size="500ml", temperature=ROOM),
        ),
    ),
    ProductSeed(
        2,
        "tea-drinks",
        "TEA-SAGO",
        "Mango Pomelo Sago",
        "杨枝甘露",
        "Mango, pomelo and sago in coconut milk: the Hong Kong dessert as a drink.",
        (
            opt("500ML-ICED", 2200, size="500ml", temperature=ICED),
            opt("700ML-ICED", 2600, size="700ml", temperature=ICED),
        ),
    ),
)

_FRUIT: tuple[ProductSeed, ...] = (
    ProductSeed(
        101,
        "fresh-fruit",
        "FRT-MANGO",
        "Hainan Guifei Mango",
        "海南贵妃芒",
        "Sweet, fragrant mangoes from Sanya, ripened on the tree.",
        (opt("500G", 1990, size="500g"), opt("1KG", 3690, size="1kg")),
    ),
    ProductSeed(
        102,
        "fresh-fruit",
        "FRT-APPLE-FUJI",
        "Yantai Fuji Apple",
        "烟台红富士苹果",
        "Crisp, juicy Fuji apples from Shandong's Yantai orchards.",
        (
            opt("4PK", 2490, pack=("4个装", "4 apples")),
            opt("8PK", 4590, pack=("8个装", "8 apples")),
        ),
    ),
    ProductSeed(
        103,
        "fresh-fruit",
        "FRT-GRAPE-SR",
        "Sunshine Rose Grapes",
        "阳光玫瑰葡萄",
        "Seedless green grapes with a floral, muscat sweetness.",
        (opt("500G", 3990, size="500g"), opt("1KG", 7590, size="1kg")),
    ),
    ProductSeed(
        104,
        "fresh-fruit",
        "FRT-ORANGE-GN",
        "Gannan Navel Orange",
        "赣南脐橙",
        "Easy-peel navel oranges from southern Jiangxi.",
        (opt("1KG", 1590, size="1kg"), opt("2.5KG", 3590, size="2.5kg")),
    ),
    ProductSeed(
        105,
        "fresh-fruit",
        "FRT-BLUEBERRY",
        "Yunnan Blueberries",
        "云南蓝莓",
        "Plump highland blueberries, washed and ready to eat.",
        (opt("125G", 1990, size="125g"), opt("250G", 3590, size="250g")),
    ),
    ProductSeed(
        106,
        "fresh-fruit",
        "FRT-BANANA",
        "Highland Banana",
        "高山香蕉",
        "Creamy bananas, sold by the bunch.",
        (opt("1KG", 990, size="1kg"), opt("2KG", 1790, size="2kg")),
    ),
)

_DAIRY: tuple[ProductSeed, ...] = (
    ProductSeed(
        201,
        "dairy-eggs",
        "DRY-MILK-FRESH",
        "Fresh Whole Milk",
        "鲜牛奶",
        "Pasteurised whole milk from grass-fed herds; keep refrigerated.",
        (opt("950ML", 1590, volume="950ml"), opt("1.8L", 2790, volume="1.8L")),
    ),
    ProductSeed(
        202,
        "dairy-eggs",
        "DRY-YOGURT-GRK",
        "Greek Yogurt",
        "希腊酸奶",
        "Thick strained yogurt, 10% protein.",
        (
            opt("PLAIN", 890, flavour=("原味", "plain"), size="200g"),
            opt("BLUEBERRY", 990, flavour=("蓝莓", "blueberry"), size="200g"),
            opt("HONEY", 990, flavour=("蜂蜜", "honey"), size="200g"),
        ),
    ),
    ProductSeed(
        203,
        "dairy-eggs",
        "DRY-EGGS-FR",
        "Free-range Eggs",
        "散养鸡蛋",
        "Brown eggs from free-range hens in Anhui.",
        (
            opt("10", 1990, pack=("10枚装", "10 eggs")),
            opt("20", 3690, pack=("20枚装", "20 eggs")),
        ),
    ),
    ProductSeed(
        204,
        "dairy-eggs",
        "DRY-CHEDDAR",
        "Cheddar Cheese Slices",
        "切达奶酪片",
        "Mild cheddar slices for toast and sandwiches.",
        (
            opt("10SL", 2590, pack=("10片装", "10 slices")),
            opt("24SL", 5490, pack=("24片装", "24 slices")),
        ),
    ),
    ProductSeed(
        205,
        "dairy-eggs",
        "DRY-BUTTER",
        "Butter",
        "黄油",
        "Churned from fresh cream, 82% milk fat.",
        (
            opt("SALTED-200G", 2290, flavour=("有盐", "salted"), size="200g"),
            opt("UNSALTED-200G", 2290, flavour=("无盐", "unsalted"), size="200g"),
        ),
    ),
)

_BAKERY: tuple[ProductSeed, ...] = (
    ProductSeed(
        301,
        "bakery",
        "BKR-SOURDOUGH",
        "Sourdough Loaf",
        "酸种面包",
        "Slow-fermented country loaf, baked in store every morning.",
        (
            opt("WHOLE", 2890, size=("整个", "whole")),
            opt("HALF", 1590, size=("半个", "half")),
        ),
    ),
    ProductSeed(
        302,
        "bakery",
        "BKR-CROISSANT",
        "Butter Croissant",
        "黄油可颂",
        "Flaky all-butter croissants.",
        (
            opt("1PC", 1200, pack=("1个", "1 piece")),
            opt("4PK", 4200, pack=("4个装", "4 pieces")),
        ),
    ),
    ProductSeed(
        303,
        "bakery",
        "BKR-TOAST-WW",
        "Whole Wheat Toast",
        "全麦吐司",
        "Soft sandwich loaf with 50% whole-wheat flour.",
        (opt("400G", 1290, size="400g"), opt("800G", 2290, size="800g")),
    ),
    ProductSeed(
        304,
        "bakery",
        "BKR-EGG-TART",
        "Portuguese Egg Tart",
        "葡式蛋挞",
        "Caramelised custard in puff pastry.",
        (
            opt("2PK", 1290, pack=("2个装", "2 tarts")),
            opt("6PK", 3490, pack=("6个装", "6 tarts")),
        ),
    ),
    ProductSeed(
        305,
        "bakery",
        "BKR-REDBEAN",
        "Red Bean Bun",
        "红豆面包",
        "Milk bread filled with sweet red bean paste.",
        (
            opt("1PC", 690, pack=("1个", "1 bun")),
            opt("4PK", 2390, pack=("4个装", "4 buns")),
        ),
    ),
    ProductSeed(
        306,
        "bakery",
        "BKR-MOONCAKE",
        "Suzhou-style Mooncake",
        "苏式月饼",
        "Flaky pastry mooncakes, a Jiangnan classic.",
        (
            opt("PORK-4PK", 3280, filling=("鲜肉", "fresh pork"), pack=("4个装", "4 pieces")),
            opt("LOTUS-4PK", 2880, filling=("莲蓉", "lotus seed"), pack=("4个装", "4 pieces")),
        ),
    ),
)

_COFFEE_TEA: tuple[ProductSeed, ...] = (
    ProductSeed(
        401,
        "coffee-tea",
        "CFT-BEANS-YN",
        "Yunnan Coffee Beans",
        "云南小粒咖啡豆",
        "Single-origin Catimor from Pu'er, roasted in Shanghai.",
        (
            opt("MED-250G", 6800, roast=("中度烘焙", "medium"), weight="250g"),
            opt("DARK-250G", 6800, roast=("深度烘焙", "dark"), weight="250g"),
            opt("MED-1KG", 23800, roast=("中度烘焙", "medium"), weight="1kg"),
        ),
    ),
    ProductSeed(
        402,
        "coffee-tea",
        "CFT-COLDBREW",
        "Cold Brew Coffee",
        "冷萃咖啡",
        "Steeped for 18 hours; smooth and low in acidity.",
        (
            opt("330ML", 1290, pack=("1瓶 330ml", "1 x 330ml")),
            opt("6X330ML", 6990, pack=("6瓶 330ml", "6 x 330ml")),
        ),
    ),
    ProductSeed(
        403,
        "coffee-tea",
        "CFT-LONGJING",
        "West Lake Longjing Tea",
        "西湖龙井",
        "Pre-Qingming pan-fired green tea from Hangzhou's West Lake hills.",
        (opt("50G", 12800, weight="50g"), opt("100G", 23800, weight="100g")),
    ),
    ProductSeed(
        404,
        "coffee-tea",
        "CFT-TIEGUANYIN",
        "Anxi Tieguanyin Oolong",
        "安溪铁观音",
        "Lightly oxidised oolong with an orchid aroma.",
        (opt("125G", 8800, weight="125g"), opt("250G", 16800, weight="250g")),
    ),
    ProductSeed(
        405,
        "coffee-tea",
        "CFT-JASMINE",
        "Jasmine Green Tea Bags",
        "茉莉花茶包",
        "Green tea scented with Guangxi jasmine blossoms.",
        (
            opt("20BAG", 2490, pack=("20包装", "20 bags")),
            opt("50BAG", 5290, pack=("50包装", "50 bags")),
        ),
    ),
    ProductSeed(
        406,
        "coffee-tea",
        "CFT-DRIPBAG",
        "Drip Bag Coffee",
        "挂耳咖啡",
        "Pour-over coffee in single-cup drip bags.",
        (
            opt("10BAG", 4990, pack=("10包装", "10 bags")),
            opt("30BAG", 12900, pack=("30包装", "30 bags")),
        ),
    ),
)

_SNACKS: tuple[ProductSeed, ...] = (
    ProductSeed(
        501,
        "snacks",
        "SNK-SEEDS",
        "Roasted Sunflower Seeds",
        "香瓜子",
        "Slow-roasted sunflower seeds, the classic shared snack.",
        (
            opt("CARAMEL-200G", 990, flavour=("焦糖", "caramel"), size="200g"),
            opt("ORIGINAL-200G", 890, flavour=("原味", "original"), size="200g"),
            opt("CARAMEL-500G", 2190, flavour=("焦糖", "caramel"), size="500g"),
        ),
    ),
    ProductSeed(
        502,
        "snacks",
        "SNK-SEAWEED",
        "Crispy Seaweed Snack",
        "海苔脆片",
        "Thin roasted laver sheets, lightly salted.",
        (
            opt("12X5G", 1990, pack=("12包 5g", "12 x 5g")),
            opt("24X5G", 3590, pack=("24包 5g", "24 x 5g")),
        ),
    ),
    ProductSeed(
        503,
        "snacks",
        "SNK-DUCKNECK",
        "Braised Duck Neck",
        "卤鸭脖",
        "Wuhan-style braised duck neck, vacuum packed.",
        (
            opt("MILD-250G", 2590, spice=("微辣", "mild"), size="250g"),
            opt("HOT-250G", 2590, spice=("特辣", "hot"), size="250g"),
        ),
    ),
    ProductSeed(
        504,
        "snacks",
        "SNK-NUTS-DAILY",
        "Daily Mixed Nuts",
        "每日坚果",
        "Walnuts, almonds, cashews and dried berries in daily packs.",
        (
            opt("7PK", 3990, pack=("7包 25g", "7 x 25g")),
            opt("30PK", 14900, pack=("30包 25g", "30 x 25g")),
        ),
    ),
    ProductSeed(
        505,
        "snacks",
        "SNK-PRAWN-CRACKER",
        "Prawn Crackers",
        "虾片",
        "Light, crunchy crackers made with real prawns.",
        (opt("80G", 890, size="80g"), opt("200G", 1890, size="200g")),
    ),
    ProductSeed(
        506,
        "snacks",
        "SNK-CHOC-DARK",
        "Dark Chocolate Bar",
        "黑巧克力",
        "Single-origin dark chocolate, 100g bar.",
        (
            opt("70", 2590, cocoa="70%", size="100g"),
            opt("85", 2790, cocoa="85%", size="100g"),
        ),
    ),
)

_HOME: tuple[ProductSeed, ...] = (
    ProductSeed(
        601,
        "home",
        "HOM-TISSUE-BAMBOO",
        "Bamboo Facial Tissue",
        "竹浆抽纸",
        "Unbleached bamboo-pulp tissues, 3-ply.",
        (
            opt("6PK", 2490, pack=("6包装", "6 packs")),
            opt("18PK", 6490, pack=("18包装", "18 packs")),
        ),
    ),
    ProductSeed(
        602,
        "home",
        "HOM-LAUNDRY",
        "Laundry Liquid",
        "洗衣液",
        "Low-foam laundry liquid for machine and hand wash.",
        (opt("1KG", 2990, size="1kg"), opt("3KG", 6990, size="3kg")),
    ),
    ProductSeed(
        603,
        "home",
        "HOM-DISHSOAP",
        "Dish Soap",
        "洗洁精",
        "Gentle on hands, tough on grease.",
        (
            opt("LEMON-500ML", 1290, scent=("柠檬", "lemon"), volume="500ml"),
            opt("GREENTEA-500ML", 1290, scent=("绿茶", "green tea"), volume="500ml"),
        ),
    ),
    ProductSeed(
        604,
        "home",
        "HOM-KITCHEN-TOWEL",
        "Kitchen Paper Towels",
        "厨房纸巾",
        "Absorbent two-ply kitchen rolls.",
        (
            opt("2ROLL", 1590, pack=("2卷装", "2 rolls")),
            opt("6ROLL", 3990, pack=("6卷装", "6 rolls")),
        ),
    ),
    ProductSeed(
        605,
        "home",
        "HOM-BAG-REUSE",
        "Reusable Shopping Bag",
        "环保购物袋",
        "Sturdy woven bag with the omnishelf logo.",
        (opt("S", 590, size=("小号", "small")), opt("L", 990, size=("大号", "large"))),
    ),
    ProductSeed(
        606,
        "home",
        "HOM-TRASH-BAG",
        "Drawstring Trash Bags",
        "抽绳垃圾袋",
        "Thick, leak-proof bags with drawstring ties.",
        (
            opt("45X50-100", 1290, size="45 x 50cm", pack=("100只装", "100 bags")),
            opt("60X80-50", 1590, size="60 x 80cm", pack=("50只装", "50 bags")),
        ),
    ),
)

PRODUCTS: tuple[ProductSeed, ...] = (
    _TEA_DRINKS + _FRUIT + _DAIRY + _BAKERY + _COFFEE_TEA + _SNACKS + _HOME
)


# --- stock ----------------------------------------------------------------------------------

# Every store, warehouse and front warehouse carries every variant; pickup points hold none.
STOCKED_TYPES = frozenset(
    {LocationType.STORE, LocationType.WAREHOUSE, LocationType.FRONT_WAREHOUSE}
)
STORE_STOCK = (0, 40)
WAREHOUSE_STOCK = (100, 500)
STORE_OUT_OF_STOCK_PERCENT = 10  # so the demo shows OUT_OF_STOCK next to LOW_STOCK (1 to 5)


def variant_codes() -> tuple[str, ...]:
    return tuple(product.code(option) for product in PRODUCTS for option in product.options)


def demo_on_hand(location_code: str, location_type: LocationType, variant_code: str) -> int:
    """A pseudo-random but fixed quantity: the same on every run and every machine."""
    digest = hashlib.sha256(f"{location_code}/{variant_code}".encode()).digest()
    roll = int.from_bytes(digest[:8], "big")
    if location_type is LocationType.STORE:
        if roll % 100 < STORE_OUT_OF_STOCK_PERCENT:
            return 0
        low, high = STORE_STOCK
    else:
        low, high = WAREHOUSE_STOCK
    return low + (roll // 100) % (high - low + 1)


# --- staff ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSeed:
    username: str
    password: str
    role: StaffRole
    display_name: str
    store_codes: tuple[str, ...] = ()


def store_staff(store: LocationDraft) -> tuple[StaffSeed, ...]:
    """A manager and a clerk for one store: `<code>-manager`, `<code>-clerk`."""
    prefix = store.code.lower()
    return (
        StaffSeed(
            f"{prefix}-manager",
            DEMO_PASSWORD,
            StaffRole.STORE_MANAGER,
            f"{store.name} manager",
            (store.code,),
        ),
        StaffSeed(
            f"{prefix}-clerk",
            DEMO_PASSWORD,
            StaffRole.STORE_CLERK,
            f"{store.name} clerk",
            (store.code,),
        ),
    )


STAFF: tuple[StaffSeed, ...] = (
    StaffSeed(ADMIN_USERNAME, ADMIN_PASSWORD, StaffRole.ADMIN, "Demo administrator"),
    StaffSeed("cs-agent", DEMO_PASSWORD, StaffRole.CS_AGENT, "Customer service"),
    *(seed for store in STORES for seed in store_staff(store)),
)
