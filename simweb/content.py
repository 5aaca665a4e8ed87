"""Word pools and small builders for the simulated government web's text.

Everything here is pure data or a pure function of a ``random.Random``: names of
provinces and their one-character abbreviations, policy topics, news headlines,
文号 and 索引号 formats, dates written the ways portals write them.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

AS_OF = date(2023, 10, 31)

PROVINCE_ABBR = {
    "北京市": "京", "天津市": "津", "河北省": "冀", "山西省": "晋", "内蒙古自治区": "蒙",
    "辽宁省": "辽", "吉林省": "吉", "黑龙江省": "黑", "上海市": "沪", "江苏省": "苏",
    "浙江省": "浙", "安徽省": "皖", "福建省": "闽", "江西省": "赣", "山东省": "鲁",
    "河南省": "豫", "湖北省": "鄂", "湖南省": "湘", "广东省": "粤", "广西壮族自治区": "桂",
    "海南省": "琼", "重庆市": "渝", "四川省": "川", "贵州省": "黔", "云南省": "云",
    "西藏自治区": "藏", "陕西省": "陕", "甘肃省": "甘", "青海省": "青", "宁夏回族自治区": "宁",
    "新疆维吾尔自治区": "新", "新疆生产建设兵团": "兵",
}

PROVINCE_DOMAINS = {
    "北京市": "beijing.gov.cn", "天津市": "tj.gov.cn", "河北省": "hebei.gov.cn", "山西省": "shanxi.gov.cn",
    "内蒙古自治区": "nmg.gov.cn", "辽宁省": "ln.gov.cn", "吉林省": "jl.gov.cn", "黑龙江省": "hlj.gov.cn",
    "上海市": "shanghai.gov.cn", "江苏省": "jiangsu.gov.cn", "浙江省": "zj.gov.cn", "安徽省": "ah.gov.cn",
    "福建省": "fujian.gov.cn", "江西省": "jiangxi.gov.cn", "山东省": "shandong.gov.cn", "河南省": "henan.gov.cn",
    "湖北省": "hubei.gov.cn", "湖南省": "hunan.gov.cn", "广东省": "gd.gov.cn", "广西壮族自治区": "gxzf.gov.cn",
    "海南省": "hainan.gov.cn", "重庆市": "cq.gov.cn", "四川省": "sc.gov.cn", "贵州省": "guizhou.gov.cn",
    "云南省": "yn.gov.cn", "西藏自治区": "xizang.gov.cn", "陕西省": "shaanxi.gov.cn", "甘肃省": "gansu.gov.cn",
    "青海省": "qinghai.gov.cn", "宁夏回族自治区": "nx.gov.cn", "新疆维吾尔自治区": "xinjiang.gov.cn",
    "新疆生产建设兵团": "xjbt.gov.cn",
}

AREA_CODES = ["010", "022", "0311", "0351", "0471", "024", "0431", "0451", "021", "025", "0571",
              "0551", "0591", "0791", "0531", "0371", "027", "0731", "020", "0771", "0898", "023",
              "028", "0851", "0871", "0891", "029", "0931", "0971", "0951", "0991", "0512", "0510",
              "0574", "0577", "0532", "0755", "0757", "0769", "0592", "0595", "0516", "0513"]

TOPICS = [
    "优化营商环境", "促进消费扩容提质", "加强安全生产", "全面推进乡村振兴", "实施城市更新行动",
    "推进生活垃圾分类", "城镇老旧小区改造", "稳就业促创业", "发展养老服务", "深化医疗保障制度改革",
    "推动义务教育优质均衡发展", "全面推行河湖长制", "政策性农业保险", "强化科技创新", "推动制造业高质量发展",
    "加快人才集聚", "完善住房保障体系", "综合交通运输体系建设", "文化和旅游融合发展", "生态环境保护",
    "防汛抗旱", "稳定粮食生产", "降低企业成本", "支持民营经济发展", "促进外贸稳规模优结构",
    "加强耕地保护", "推进绿色低碳发展", "提升公共文化服务", "完善社会救助体系", "加强食品安全监管",
    "深化“放管服”改革", "推进高标准农田建设", "加快发展保障性租赁住房", "推动中医药传承创新",
    "促进体育产业发展", "加强气象防灾减灾", "推进海绵城市建设", "规范行政执法", "推进节水型社会建设",
    "加强地方金融监管", "促进服务业高质量发展", "推动开发区改革创新",
]

DOC_FORMS = [
    "{gov}关于{topic}的实施意见", "{gov}办公厅关于{topic}的通知", "{gov}关于印发《{short}{topic}三年行动方案（2023—2025年）》的通知",
    "{gov}关于进一步{topic}的若干措施", "{gov}办公厅关于印发{short}{topic}工作方案的通知",
    "{gov}关于{topic}的指导意见", "{gov}办公室关于做好{topic}工作的通知",
]

NEWS_FORMS = [
    "{short}召开{topic}工作推进会", "市领导调研{topic}工作", "{short}{topic}工作取得阶段性成效",
    "{short}举行{topic}新闻发布会", "{topic}专项行动全面启动", "{short}部署{topic}重点任务",
    "{short}与高校签署{topic}战略合作协议", "常务会议研究{topic}等事项", "{short}{topic}经验获全省推广",
    "前三季度{short}经济运行总体平稳", "{short}开展{topic}督查检查", "{short}召开{topic}专题培训会",
]

DEPTS = ["发展和改革委员会", "教育局", "科学技术局", "工业和信息化局", "公安局", "民政局", "司法局", "财政局",
         "人力资源和社会保障局", "自然资源和规划局", "生态环境局", "住房和城乡建设局", "交通运输局", "水利局",
         "农业农村局", "商务局", "文化广电旅游局", "卫生健康委员会", "应急管理局", "市场监督管理局",
         "统计局", "医疗保障局", "数据资源管理局"]

DATA_REG_NAMES = ["公共数据管理办法", "数据安全管理办法", "公共数据安全管理暂行办法", "公共数据开放管理办法",
                  "公共数据授权运营管理办法（试行）", "政务数据共享管理办法", "公共数据资源管理办法"]
PLAN_NAMES = ["数字政府建设实施方案", "关于加快推进数字政府建设的实施意见", "数字政府建设“十四五”规划",
              "数字政府建设总体方案", "关于全面加强数字政府建设的实施方案"]

PARA_POOL = [
    "为深入贯彻落实党中央、国务院决策部署，结合本地实际，制定本{kind}。",
    "坚持以人民为中心的发展思想，坚持稳中求进工作总基调，完整、准确、全面贯彻新发展理念。",
    "各地、各部门要高度重视，加强组织领导，明确责任分工，细化工作举措，确保各项任务落到实处。",
    "建立健全工作协调机制，强化部门协同联动，定期研究解决工作推进中的重大问题。",
    "加大财政资金支持力度，统筹用好各类专项资金，引导社会资本积极参与。",
    "加强宣传引导，及时总结推广典型经验做法，营造全社会共同参与的良好氛围。",
    "强化督促检查，将重点任务完成情况纳入年度综合考核，对工作不力的予以通报。",
    "到2025年，基本形成布局合理、功能完善、运行高效的工作体系，主要指标达到全省先进水平。",
    "本{kind}自印发之日起施行，有效期五年。此前有关规定与本{kind}不一致的，以本{kind}为准。",
]
NEWS_PARA = [
    "会议指出，要坚持问题导向和目标导向，扎实推进各项重点工作，确保取得实效。",
    "据了解，今年以来，相关部门围绕中心工作，主动作为、靠前服务，各项工作有序推进。",
    "与会人员结合各自工作实际进行了深入交流，并就下一步工作提出了意见建议。",
    "下一步，将持续加大工作力度，进一步完善工作机制，不断提升群众获得感和满意度。",
    "活动现场，工作人员向群众发放宣传资料，耐心解答群众关心关注的问题。",
    "记者从有关部门获悉，截至目前，全市已累计完成年度任务的85%以上。",
]


def rng_for(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` determined by the seed and the given labels (stable across runs)."""
    key = "|".join([str(seed), *map(str, parts)]).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def short_name(name: str) -> str:
    """杭州市 → 杭州, 浙江省 → 浙江, 广西壮族自治区 → 广西."""
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "生产建设兵团", "自治区", "自治州", "省", "市", "地区", "盟"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def gov_name(name: str, level: str) -> str:
    if name == "新疆生产建设兵团":
        return name
    return f"{name}人民政府"


def random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days + 1)))


def fmt_date(d: date, style: int) -> str:
    """Dates the ways portals print them."""
    if style == 0:
        return d.isoformat()
    if style == 1:
        return f"{d.year}年{d.month:02d}月{d.day:02d}日"
    if style == 2:
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.year}/{d.month}/{d.day}"


def docno(prefix: str, year: int, seq: int, style: int) -> str:
    """A 文号: 浙政发〔2023〕12号, with the bracket variants real pages use."""
    if style == 1:
        return f"{prefix}[{year}]{seq}号"
    if style == 2:
        return f"{prefix}（{year}）{seq}号"
    if style == 3:
        return f"{prefix}〔{year}〕{seq} 号"
    return f"{prefix}〔{year}〕{seq}号"


def index_no(rng: random.Random, style: int, org_code: str, d: date, seq: int) -> str:
    """A 索引号 in one of the formats seen on portals."""
    if style == 0:
        return f"{org_code}/{d.year}-{seq:05d}"
    if style == 1:
        return f"{d.year}-{d.month:02d}-{seq:05d}"
    return f"{d.strftime('%Y%m%d')}-{rng.randrange(100000, 999999)}"


def paragraphs(rng: random.Random, kind: str, n: int) -> list[str]:
    paras = rng.sample(PARA_POOL, k=min(n, len(PARA_POOL)))
    return [p.format(kind=kind) for p in paras]


def news_paragraphs(rng: random.Random, n: int) -> list[str]:
    return rng.sample(NEWS_PARA, k=min(n, len(NEWS_PARA)))
