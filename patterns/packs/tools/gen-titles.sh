#!/bin/sh
# Writes N distinct made-up work titles, one per line, for scale-testing literal
# lists (patterns/packs/scale-100k.yaml). The titles are invented from word
# pools below; any resemblance to a real work is chance.
#
#   patterns/packs/tools/gen-titles.sh 100000 >patterns/packs/lists/generated/titles-100k.txt
#
# usage: gen-titles.sh N [SEED]     (SEED: 1..2147483646, default 20261123)
#
# Deterministic: the same N and SEED give the same bytes with any POSIX awk
# (the generator is Park-Miller, x = x * 16807 mod 2^31-1, whose products stay
# below 2^53 and so are exact in awk's doubles). No network, no state.
#
# Mix: about 60% Chinese titles (4 to 12 characters: 星河铁道, 雾港来信第二季,
# 长夜的守夜人2047), 40% Latin ones (2 to 6 words: "The Silent Harbor",
# "Lanterns of Eastport II"). Every title is at least 4 characters, so none
# is a common two-character word that would block ordinary chat.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 N [SEED]" >&2
	exit 2
fi
case $1 in
'' | *[!0-9]*)
	echo "$0: N must be a non-negative integer" >&2
	exit 2
	;;
esac
seed=${2:-20261123}
case $seed in
'' | *[!0-9]*)
	echo "$0: SEED must be a positive integer" >&2
	exit 2
	;;
esac

exec awk -v n="$1" -v seed="$seed" '
function rnd(k) {
	x = (x * 16807) % 2147483647
	return x % k
}
function pick(a, cnt) { return a[rnd(cnt) + 1] }
function zh_title(   f, t) {
	f = rnd(10)
	if (f < 4)
		t = pick(zp, nzp) pick(zn, nzn)
	else if (f < 5)
		t = pick(zp, nzp) "的" pick(zn, nzn)
	else if (f < 7)
		t = pick(zp, nzp) pick(zn, nzn) pick(zs, nzs)
	else if (f < 8)
		t = pick(zp, nzp) pick(zn, nzn) (1900 + rnd(200))
	else if (f < 9)
		t = pick(zv, nzv) pick(zp, nzp) pick(zn, nzn)
	else
		t = pick(zp, nzp) pick(zm, nzm) pick(zn, nzn)
	return t
}
function en_title(   f, t) {
	f = rnd(10)
	if (f < 3)
		t = "The " pick(ea, nea) " " pick(en, nen)
	else if (f < 5)
		t = pick(en, nen) "s of " pick(ep, nep)
	else if (f < 6)
		t = "The " pick(en, nen) " of " pick(ep, nep)
	else if (f < 8)
		t = pick(ea, nea) " " pick(en, nen) " " pick(es, nes)
	else if (f < 9)
		t = pick(ev, nev) " the " pick(ea, nea) " " pick(en, nen)
	else
		t = pick(ea, nea) " " pick(en, nen) " " (1900 + rnd(200))
	return t
}
BEGIN {
	x = seed % 2147483647
	if (x <= 0) x = 20261123
	nzp = split("星河 青铜 雾港 长夜 白鹭 北境 南山 东海 西风 落日 春江 秋水 云岭 沧澜 赤城 玄武 朱雀 青丘 碧海 金陵 长安 洛阳 临安 姑苏 燕云 江南 塞北 大漠 孤城 远山 深巷 旧城 新月 残阳 晨光 暮色 烟雨 风雪 霜天 寒江 铁道 灯塔 钟楼 渡口 长街 雪原 荒岛 极夜 深海 浮城 天际 海棠 梧桐 银杏 紫荆 琥珀 翡翠 水晶 星辰 月影 云端 彼岸 山海 江湖 雾都 锦城 川西 滇南 岭南 漠北 关山 沙洲 潮汐 冰川 花城 霓虹 铁幕 废墟", zp, " ")
	nzn = split("往事 来信 纪事 传说 之歌 旅人 少年 故人 归途 长歌 密码 档案 迷局 谜案 风云 岁月 天空 恋人 灯火 旧梦 告白 契约 守望 回声 边界 异闻 诡事 日记 信使 守夜人 观测站 列车 邮差 画师 琴师 医生 侦探 厨房 书店 剧场 车站 花园 码头 学院 酒馆 当铺 照相馆 修表匠 摆渡人 追光者 逆行者 捕梦人 拾荒者 继承者 游戏 笔记 秘史 长卷 协奏曲 夜曲 序曲 狂想曲 奇遇记 漂流记 生存记 成长记 访客 来客 房客 过客 归人 远行 重逢 离别 相遇 告别 约定", zn, " ")
	nzs = split("第二季 第三季 第四季 第五季 前传 外传 续集 番外篇 特别篇 电影版 剧场版 完结篇 新篇 重制版 导演剪辑版 上部 下部", zs, " ")
	nzv = split("重返 回到 告别 寻找 穿越 守护 逃离 走出 遇见 追寻 梦回 再见", zv, " ")
	nzm = split("之 与 里的 上的 下的 中的 外的", zm, " ")
	nea = split("Silent Hidden Broken Golden Silver Crimson Distant Last First Quiet Wild Frozen Burning Endless Lost Secret Little Lonely Iron Hollow Fallen Rising Northern Southern Eastern Western Midnight Morning Paper Glass Velvet Electric Ancient Forgotten Wandering Shattered Bright Dark Pale Scarlet Emerald Copper Winter Summer Autumn Spring Salt Stone Amber Neon", ea, " ")
	nen = split("Harbor Lantern Keeper Garden River Empire Kingdom Shadow Letter Station Signal Orchard Lighthouse Voyage Archive Machine Portrait Harvest Frontier Horizon Circus Theater Bridge Tower Island Forest Mirror Ember Compass Anthem Carnival Detective Witness Stranger Traveler Sailor Pilot Painter Doctor Orphan Heir Prophet Ghost Echo Tide Storm Comet Planet Nebula Citadel Republic", en, " ")
	nep = split("Eastport Harrow_Lane Ashford Blackwater Redmoor Silverbay Westmarch Northgate Kingsbridge Elmstead Greyhaven Stonebrook Willowmere Oakridge Ravenhill Saltmarsh Brightwater Thornfield Lakeshore Marrow_Street", ep, " ")
	for (i = 1; i <= nep; i++) gsub(/_/, " ", ep[i])
	nes = split("II III IV Returns Rising Reborn Forever Unbound Chronicles Redux Origins Legacy Awakening", es, " ")
	nev = split("Beyond Under Saving Finding Chasing Leaving Becoming Remembering Crossing Guarding", ev, " ")
	made = 0
	tries = 0
	while (made < n) {
		t = rnd(10) < 6 ? zh_title() : en_title()
		tries++
		if (t in seen) {
			if (tries > 50 * n + 1000) {
				print "gen-titles.sh: word pools exhausted at " made " titles" > "/dev/stderr"
				exit 1
			}
			continue
		}
		seen[t] = 1
		print t
		made++
	}
}'
